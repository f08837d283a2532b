"""Sub-net switch time and dynamic-vs-static inference latency (ResNet-20, CPU).

Measures (a) ``set_subnet`` between two banked configs and (b) CPU latency of the dynamic model
at a config vs its exported static module, at 4 uniform widths, batch 1 and 128.
Targets (issue 2): switch <= 50 us; dynamic/static latency ratio <= 1.10 at batch 128.
Every figure is the best of ``--best-of`` rounds (default 3; each round a median of
``--repeats`` calls), and the 1-minute load average before each round is recorded: the shared
2-core machines vary a lot with other jobs. Expected run time: ~3-5 minutes on 2 CPU cores.

    python benchmarks/foundation_speed.py [--threads 1] [--repeats 20] [--best-of 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import add_provenance_args, best_of, md_table, start_run, write_result

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn


def timed_pair(fa, fb, repeats: int, warmup: int = 3) -> tuple[float, float]:
    """Median seconds of ``fa()`` and ``fb()``, interleaved so load drift hits both alike."""
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, ts in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--best-of", type=int, default=3, help="rounds; the best is kept (default 3)")
    add_provenance_args(ap)
    args = ap.parse_args()
    start_run(args.allow_dirty)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model("resnet20", in_channels=1, num_classes=10, image_size=28).eval()
    widths = [0.25, 0.5, 0.75, 1.0]
    cfgs = [SubnetConfig.uniform(model, w) for w in widths]
    calib = [torch.randn(64, 1, 28, 28)]
    for c in cfgs:
        calibrate_bn(model, c, calib)

    n_switch = 20000
    a, b = cfgs[0], cfgs[-1]

    def switch_round() -> float:
        t0 = time.perf_counter()
        for i in range(n_switch):
            model.set_subnet(a if i % 2 else b)
        return (time.perf_counter() - t0) / n_switch

    switch = best_of(switch_round, args.best_of)
    switch_s = switch["best"]

    # width and precision together (issue 17): a quantized model with lower precisions added
    qmodel = create_model("resnet20", in_channels=1, num_classes=10, image_size=28, wbits=8,
                          abits=8, precisions=[(4, 4), (2, 2)]).eval()

    def joint_round() -> float:
        t0 = time.perf_counter()
        for i in range(n_switch):
            if i % 2:
                qmodel.set_precision((4, 4))
                qmodel.set_subnet(a)
            else:
                qmodel.set_precision(None)
                qmodel.set_subnet(b)
        return (time.perf_counter() - t0) / n_switch

    joint = best_of(joint_round, args.best_of)

    rows, latency = [], []
    for w, cfg in zip(widths, cfgs):
        static = model.export_subnet(cfg)
        model.set_subnet(cfg)
        for bs in (1, 128):
            x = torch.randn(bs, 1, 28, 28)
            pairs: list[tuple[float, float]] = []

            def pair_round(x=x, static=static, pairs=pairs) -> float:
                with torch.inference_mode():
                    pairs.append(timed_pair(lambda: model(x), lambda: static(x), args.repeats))
                return pairs[-1][0]

            rounds = best_of(pair_round, args.best_of)
            t_dyn, t_sta = min(p[0] for p in pairs), min(p[1] for p in pairs)
            latency.append({"width": w, "batch": bs, "dynamic_s": t_dyn, "static_s": t_sta,
                            "ratio": t_dyn / t_sta, "rounds_s": pairs,
                            "load_1min": rounds["load_1min"]})
            rows.append([w, bs, f"{t_dyn * 1e3:.3f}", f"{t_sta * 1e3:.3f}",
                         f"{t_dyn / t_sta:.3f}"])
    table = md_table(["width", "batch", "dynamic (ms)", "static (ms)", "dynamic/static"], rows)
    worst = max(r["ratio"] for r in latency if r["batch"] == 128)
    loads = [v for r in latency for v in r["load_1min"] if v is not None]
    load = f"{min(loads):.2f}-{max(loads):.2f}" if loads else "unavailable"
    summary = (f"Best of {args.best_of} rounds each (1-minute load average {load} during the "
               f"rounds).\n\n"
               f"set_subnet between two banked configs: {switch_s * 1e6:.2f} µs per switch "
               f"(target <= 50 µs: {'met' if switch_s <= 50e-6 else 'NOT met'}); width and "
               f"precision together (0.25 at W4/A4 <-> 1.0 at W8/A8): {joint['best'] * 1e6:.2f} "
               f"µs per switch (target <= 50 µs: {'met' if joint['best'] <= 50e-6 else 'NOT met'}"
               f"); worst "
               f"dynamic/static ratio at batch 128: {worst:.3f} (target <= 1.10: "
               f"{'met' if worst <= 1.10 else 'NOT met'})\n\n")
    path = write_result("foundation_speed", {
        "settings": {"model": "resnet20", "input": [1, 28, 28], "threads": args.threads,
                     "repeats": args.repeats, "switches": n_switch, "best_of": args.best_of},
        "switch_s": switch_s, "switch_rounds_s": switch["rounds"],
        "switch_load_1min": switch["load_1min"], "accuracy_split": "none: timing only",
        "switch_width_and_precision_s": joint["best"],
        "switch_width_and_precision_rounds_s": joint["rounds"],
        "latency": latency,
    }, markdown=summary + table)
    print(summary + table)
    print(f"written {path}")


if __name__ == "__main__":
    main()
