"""``dynpim latency``: measured latency of exported sub-nets on this machine's CPU (or GPU).

Writes a JSON file (schema ``dynpim.latency/1``, see docs/search.md) that
``dynpim table --hardware measured:cpu --latency FILE`` turns into an operating table.
"""

from __future__ import annotations

import argparse
import json
import os

from dynpim.cli import int_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="measure the real latency of sub-nets on CPU/GPU",
                       description="Export every config as a static module and time it: warm-up "
                       "runs, then repeated timed runs; the median is the latency. Threads, "
                       "device and machine are recorded.")
    p.add_argument("--checkpoint", required=True, help="trained checkpoint folder or run dir")
    p.add_argument("--configs", help="JSON configs (e.g. chosen.json); default: the "
                   "checkpoint's stored configs")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int_list("thread count"),
                   help="CPU thread counts to measure, e.g. 1,2 (default: torch's current count)")
    p.add_argument("--batch-size", type=int, default=1, help="images per inference (default 1)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--repeats", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--out", required=True, help="latency JSON path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dynpim.nn import load_configs
    from dynpim.search.latency import measure_latency
    from dynpim.train import load_checkpoint

    if args.device.startswith("cuda") and args.threads:
        raise ValueError("--threads applies to --device cpu only")
    ck = load_checkpoint(args.checkpoint)
    model = ck.model
    cfgs = load_configs(args.configs) if args.configs else (ck.configs or model.banked_configs())
    if not cfgs:
        raise ValueError(f"checkpoint {ck.path} stores no configs; pass --configs")
    res = measure_latency(model, cfgs, device=args.device, threads=args.threads,
                          batch_size=args.batch_size, warmup=args.warmup, repeats=args.repeats)
    res["checkpoint"] = os.path.abspath(ck.path)
    res["configs_file"] = os.path.abspath(args.configs) if args.configs else None
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{args.out}.tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"{'config':<40} {'threads':>7} {'MMACs':>8} {'median ms':>10} {'p10-p90 ms':>15}")
    for p in res["points"]:
        print(f"{p['key']:<40} {p['threads']:>7} {p['macs'] / 1e6:>8.3f} "
              f"{1e3 * p['median_s']:>10.3f} {1e3 * p['p10_s']:>7.3f}-{1e3 * p['p90_s']:.3f}")
    print(f"wrote {args.out} ({len(res['points'])} points, {res['device']}, "
          f"{res['repeats']} repeats after {res['warmup']} warm-up runs)")
    return 0
