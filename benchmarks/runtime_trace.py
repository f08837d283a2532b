"""Trace study: run-time tuning vs the best static operating point under varying power caps.

Builds an operating table for ResNet-20 (CIFAR-10 shape) from the PIM cost model (SOT-MRAM
preset: latency, energy, power of uniform widths 0.25..1.0 at 2..64 active sub-arrays), keeps its
Pareto set, and simulates 60 s of requests (Poisson, 100 Hz, deadline 10 ms) under a ramp cap
(0.40 -> 0.035 W) and a seeded random-walk cap (0.035..0.40 W). Compares the budget and feedback
policies with every static point (the table restricted to that point).

ACCURACY IS AN ASSUMPTION here (no trained table yet): acc(r) = 0.92 - 0.16 (1 - r)^1.5 for
width ratio r, a monotone curve shaped like published slimmable-network results; only the
relative comparison dynamic-vs-static is meaningful. Switch cost: the preset's sub-array wake-up
energy/latency per woken sub-array.
Expected run time: ~1-2 minutes on 2 CPU cores.

    python benchmarks/runtime_trace.py [--duration-s 60] [--seed 0]
"""

from __future__ import annotations

import argparse

from _common import md_table, write_result

from dynpim import pim
from dynpim.models import create_model
from dynpim.nn import SubnetConfig
from dynpim.runtime import OperatingPoint, OperatingTable, best_static, compare, parse_spec

RATIOS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
LEVELS = (2, 4, 8, 16, 64)


def assumed_accuracy(r: float) -> float:
    return 0.92 - 0.16 * (1 - r) ** 1.5


def build_table() -> OperatingTable:
    model = create_model("resnet20")
    hw = pim.load_preset("sot-mram")
    cfgs = list(dict.fromkeys(SubnetConfig.uniform(model, r) for r in RATIOS))
    pts = []
    for a in LEVELS:
        est = pim.estimate_many(model, cfgs, hw, active_subarrays=a)
        for i, c in enumerate(cfgs):
            r = c.ratio(model.slots)
            pts.append(OperatingPoint(
                c, a, assumed_accuracy(r), float(est["latency_s"][i]), float(est["energy_j"][i]),
                float(est["avg_power_w"][i]), float(est["peak_power_w"][i]),
                int(est["macs"][i]), label=f"x{r:.3f}@{a}"))
    meta = {"model": {"name": model.name, "args": model.args}, "preset": hw.name,
            "input_size": list(model.input_size),
            "accuracy_source": "assumption: 0.92 - 0.16 (1 - r)^1.5"}
    return OperatingTable.from_points(pts, meta).pareto(), hw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    table, hw = build_table()
    d = args.duration_s
    traces = {
        "ramp": f"ramp:duration_s={d},start_w=0.40,end_w=0.035,rate_hz=100,dt_s=0.1",
        "walk": f"walk:duration_s={d},min_w=0.035,max_w=0.40,sigma_w=0.02,rate_hz=100,"
                f"dt_s=0.1,seed={args.seed + 1}",
    }
    kw = dict(deadline_s=0.01, seed=args.seed, margin=0.05, min_dwell_s=0.2,
              wake_energy_j=hw.subarray.wakeup_energy_j,
              wake_latency_s=hw.subarray.wakeup_latency_s)
    results, parts = {}, [f"Operating table: {len(table)} Pareto points of ResNet-20 on "
                          f"{hw.name} (accuracy assumed, see script docstring).\n"]
    for name, spec in traces.items():
        rows = compare(table, parse_spec(spec), **kw)
        best = best_static(rows)
        results[name] = {"spec": spec, "rows": rows, "best_static": best["name"]}
        show = [r for r in rows if r["name"].startswith("dynamic:")] + [best]
        safe = [r for r in rows
                if r["name"].startswith("static:") and r["inferences_over_cap"] == 0]
        hi = max(rows, key=lambda r: r["mean_accuracy_served"] if r["name"].startswith("static:")
                 else -1)
        if hi is not best:
            show.append(hi)
        parts.append(f"**{name}** (`{spec}`, deadline 10 ms, margin 5 %, dwell 0.2 s): "
                     f"{len(safe)} of {len(table)} static points never run above the cap.\n")
        parts.append(md_table(
            ["run", "mean acc. served", "effective acc.", "energy J", "mJ/inference",
             "deadline misses", "cap-violation windows", "inferences over cap", "switches"],
            [[r["name"], f"{r['mean_accuracy_served']:.4f}", f"{r['effective_accuracy']:.4f}",
              f"{r['total_energy_j']:.3f}", f"{1e3 * r['energy_per_inference_j']:.4f}",
              r["deadline_misses"], f"{r['cap_violations']}/{r['windows']}",
              r["inferences_over_cap"], r["switches"]] for r in show]))
        parts.append("")
    # imperfect cost model: the hardware is 30 % slower than the table says
    err = {k: v for k, v in kw.items()}
    err["actual_latency_scale"] = 1.3
    rows = compare(table, parse_spec(traces["walk"]), static=False, **err)
    results["walk_latency_error_1.3"] = {"spec": traces["walk"], "rows": rows}
    parts.append("**walk, hardware 30 % slower than modelled** (`actual_latency_scale=1.3`): "
                 "the open-loop budget policy trusts the table, feedback corrects it.\n")
    parts.append(md_table(
        ["run", "mean acc. served", "effective acc.", "deadline misses", "inferences over cap",
         "switches"],
        [[r["name"], f"{r['mean_accuracy_served']:.4f}", f"{r['effective_accuracy']:.4f}",
          r["deadline_misses"], r["inferences_over_cap"], r["switches"]] for r in rows]))
    parts.append("")
    parts.append("Rows: both dynamic policies, the best static point (fewest inferences "
                 "run above the cap, then effective accuracy) and the most accurate static point. "
                 "Effective accuracy = sum of accuracy over requests served on time / arrived.")
    md = "\n".join(parts)
    write_result("runtime_trace", {"table": table.to_dict(), "traces": results,
                                   "settings": {k: v for k, v in kw.items()}}, markdown=md)
    print(md)


if __name__ == "__main__":
    main()
