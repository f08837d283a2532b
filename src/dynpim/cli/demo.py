"""``dynpim demo``: the main job end to end (see dynpim.demo)."""

from __future__ import annotations

import argparse
import json

from dynpim.defaults import DEFAULT_PRESET
from dynpim.errors import MODEL_MAX_BITS, is_bits


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="train, search, quantize, cost on SOT-MRAM PIM, tune at run time, report",
        description="Run the whole pipeline on a small default (scikit-learn digits, no download) "
        "or on Fashion-MNIST, writing every intermediate file and an HTML report into --out. "
        "An interrupted run resumes when started again with the same options.")
    p.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    p.add_argument("--dataset", choices=("digits", "fashion-mnist"), default="digits")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX folder (default: "
                   "/usr/share/datasets/fashion-mnist)")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs per stage (default: 20 digits, 15 fashion-mnist)")
    p.add_argument("--bits", type=int, default=8, help="weight/activation bits on the PIM")
    p.add_argument("--precisions", default=None, metavar="W/A,...",
                   help="lower run-time precisions trained jointly with the widths at the "
                   "quantization stage and tuned at run time, e.g. 4/4,2/2 (each at most "
                   "--bits; default: none, width is the only knob)")
    p.add_argument("--preset", default=DEFAULT_PRESET, help="hardware preset (dynpim pim presets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (training stages)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch (default 1: robust on a shared 2-core machine)")
    p.add_argument("--quick", action="store_true", help="a few epochs only: a smoke run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    import torch

    from dynpim.demo import DemoOptions, run_demo
    from dynpim.rundir import claim_run_dir

    if not is_bits(args.bits, max_bits=MODEL_MAX_BITS):
        raise ValueError(f"--bits must be 1..{MODEL_MAX_BITS} (the accelerator computes on "
                         f"integers), got {args.bits}")
    if args.precisions is not None:
        from dynpim.nn.precision import check_precision, parse_precisions

        for bits in parse_precisions(args.precisions):
            check_precision(bits, (args.bits, args.bits))
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    opts = DemoOptions(out=args.out, dataset=args.dataset, data_dir=args.data_dir,
                       model=args.model, epochs=args.epochs, bits=args.bits,
                       precisions=args.precisions, preset=args.preset,
                       seed=args.seed, quick=args.quick, device=args.device)
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    # a demo run resumes when started again (dynpim.demo refuses other options itself)
    claim_run_dir(args.out, "demo", asdict(opts), resume=True)
    summary = run_demo(opts)
    print("\n== dynpim demo finished")
    for k, v in summary["headline"].items():
        print(f"  {k}: {v}")
    print(f"  report: {summary['report']}")
    print(f"  everything else: {args.out}/ (summary.json: {json.dumps(summary['what'])})")
    return 0
