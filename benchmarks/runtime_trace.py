"""Trace study: run-time tuning vs the best static operating point under varying power caps.

Builds an operating table for ResNet-20 (CIFAR-10 shape) from the PIM cost model (SOT-MRAM
preset: latency, energy, power of uniform widths 0.25..1.0 at 2..64 active sub-arrays), keeps its
Pareto set, and simulates 60 s of requests (Poisson, 100 Hz, deadline 10 ms) under a ramp cap
(from 1.2x the table's highest power to 0.8x its lowest) and a seeded random-walk cap over the
same range. Compares the budget and feedback policies with every static point (the table
restricted to that point).

Two cases:

* **synthetic** (default, ``benchmarks/results/runtime_trace.json``): ACCURACY IS AN ASSUMPTION,
  acc(r) = 0.92 - 0.16 (1 - r)^1.5 for width ratio r, a monotone curve shaped like published
  slimmable-network results; only the relative comparison dynamic-vs-static is meaningful.
* **measured** (``--checkpoint DIR`` of a trained dynamic ResNet-20 with a validation split,
  e.g. search_fmnist's ``seed0/uniform/checkpoint``; or ``--accuracies JSON`` holding what such a
  run measured): every uniform width's accuracy is measured with BN calibrated on training
  batches, on the validation split (the table's ``accuracy``: the Pareto filter, the controller
  and the best static point select on it) and on the test split (each point's
  ``test_accuracy``: the reported effective accuracy). Written to
  ``benchmarks/results/runtime_trace_measured.json``.

Switch cost: the preset's sub-array wake-up energy/latency per woken sub-array.
Expected run time: ~1-2 minutes on 2 CPU cores (measured: plus 3-8 minutes of evaluation, 7 widths
on the validation and test splits).

    python benchmarks/runtime_trace.py [--duration-s 60] [--seed 0]
    python benchmarks/runtime_trace.py --checkpoint RUN/checkpoint [--data-dir DIR]
    python benchmarks/runtime_trace.py --checkpoint SEED0/checkpoint SEED1/checkpoint  # mean, sd
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from _common import add_provenance_args, md_table, start_run, write_result

from dynpim import pim
from dynpim.models import create_model
from dynpim.nn import SubnetConfig
from dynpim.runtime import OperatingPoint, OperatingTable, best_static, compare, parse_spec

RATIOS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
LEVELS = (2, 4, 8, 16, 64)


def assumed_accuracy(r: float) -> float:
    return 0.92 - 0.16 * (1 - r) ** 1.5


def measured_accuracies(checkpoint: str, data_dir: str | None = None,
                        calib_batches: int = 20) -> dict:
    """Top-1 (fractions) of each uniform width of a trained checkpoint on its validation and
    test splits, BN calibrated per width on training batches: ``{"validation": {r: acc},
    "test": {r: acc}, "checkpoint": path}`` with ``r`` as ``f"{ratio:g}"``."""
    from dynpim.data import load_dataset
    from dynpim.train import calibration_batches, load_checkpoint
    from dynpim.train.evaluate import evaluate_rows

    ck = load_checkpoint(checkpoint)
    tc = ck.meta.get("train_config", {})
    splits = load_dataset(tc["dataset"], data_dir=data_dir or tc.get("data_dir"),
                          split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout"))
    if len(splits.validation_y) == 0:
        raise SystemExit(f"{checkpoint} was trained without a validation split (holdout 0); "
                         f"the table must select on validation: use a run trained with "
                         f"--holdout (e.g. search_fmnist's uniform network)")
    calib = calibration_batches(splits, batch_size=256, num_batches=calib_batches)
    cfgs = {f"{r:g}": SubnetConfig.uniform(ck.model, r) for r in RATIOS}
    out: dict = {"checkpoint": checkpoint, "dataset": tc["dataset"],
                 "model": {"name": ck.model.name, "args": ck.model.args},
                 "validation_images": len(splits.validation_y),
                 "test_images": len(splits.test_y)}
    for split in ("validation", "test"):
        rows = {r.config: r for r in evaluate_rows(
            ck.model, list(dict.fromkeys(cfgs.values())), splits, calib, split=split,
            batch_size=1000)}
        out[split] = {k: rows[c.key].top1 / 100.0 for k, c in cfgs.items()}
    return out


def build_table(measured: dict | None = None) -> tuple[OperatingTable, object]:
    """The Pareto table of the uniform widths x LEVELS: synthetic accuracies (assumed curve),
    or ``measured`` ones (validation selects, test attached for reporting)."""
    hw = pim.load_preset("sot-mram")
    model = create_model("resnet20") if measured is None else \
        create_model(measured["model"]["name"], **measured["model"]["args"])
    cfgs = list(dict.fromkeys(SubnetConfig.uniform(model, r) for r in RATIOS))
    ratio_of = {SubnetConfig.uniform(model, r): f"{r:g}" for r in RATIOS}
    pts = []
    for a in LEVELS:
        est = pim.estimate_many(model, cfgs, hw, active_subarrays=a)
        for i, c in enumerate(cfgs):
            r = c.ratio(model.slots)
            if measured is None:
                acc, test = assumed_accuracy(r), None
            else:
                acc, test = measured["validation"][ratio_of[c]], measured["test"][ratio_of[c]]
            pts.append(OperatingPoint(
                c, a, acc, float(est["latency_s"][i]), float(est["energy_j"][i]),
                float(est["avg_power_w"][i]), float(est["peak_power_w"][i]),
                int(est["macs"][i]), label=f"x{r:.3f}@{a}", test_accuracy=test))
    meta = {"model": {"name": model.name, "args": model.args}, "preset": hw.name,
            "input_size": list(model.input_size)}
    if measured is None:
        meta.update(accuracy_source="synthetic: assumed curve 0.92 - 0.16 (1 - r)^1.5",
                    accuracy_split="none (synthetic)")
    else:
        meta.update(accuracy_source=f"measured: {measured['checkpoint']}",
                    accuracy_split="validation", test_accuracy_split="test")
    return OperatingTable(pts, meta).pareto(), hw


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", nargs="+", metavar="DIR",
                     help="trained dynamic ResNet-20(s) (with a validation split): build the "
                     "table from each one's measured accuracies; several networks (e.g. one "
                     "per training seed) give the gains as mean +- sd")
    src.add_argument("--accuracies", nargs="+", metavar="JSON",
                     help="JSON of measured accuracies (as written by a --checkpoint run under "
                     "'measured'), one per network")
    ap.add_argument("--data-dir")
    add_provenance_args(ap)
    args = ap.parse_args()
    start_run(args.allow_dirty)
    if args.checkpoint:
        networks = [measured_accuracies(ck, args.data_dir) for ck in args.checkpoint]
    elif args.accuracies:
        networks = []
        for path in args.accuracies:
            with open(path) as f:
                networks.append(json.load(f))
    else:
        networks = [None]
    runs = []
    for measured in networks:
        table, hw = build_table(measured)
        runs.append((table, *simulate_traces(table, hw, args.duration_s, args.seed)))
    table, md, data = runs[0]  # the first network's tables in full
    measured = networks[0]
    name = "runtime_trace" if measured is None else "runtime_trace_measured"
    data["case"] = "synthetic" if measured is None else "measured"
    data["measured"] = measured
    data["accuracy_split"] = table.accuracy_split if measured is None else {
        "table and selection (best static point, controller)": "validation",
        "reported effective accuracy (test)": "test"}
    if measured is not None:
        summary, summary_md = summarise_gains([d for _, _, d in runs], networks)
        data["networks"] = summary
        md = summary_md + "\n\nTables of the first network (" + measured["checkpoint"] + \
            "):\n\n" + md
    write_result(name, data, markdown=md)
    print(md)


def summarise_gains(datas: list[dict], networks: list[dict]) -> tuple[dict, str]:
    """Per trace, each dynamic policy's effective test accuracy minus the best static point's
    (chosen on validation), per network and as mean +- sd over the networks (points)."""
    per: dict = {"checkpoints": [m["checkpoint"] for m in networks], "gain_points": {}}
    lines = []
    for trace in ("ramp", "walk"):
        for policy in ("budget", "feedback"):
            gains = []
            for d in datas:
                rows = {r["name"]: r for r in d["traces"][trace]["rows"]}
                best = rows[d["traces"][trace]["best_static"]]
                dyn = rows[f"dynamic:{policy}"]
                gains.append(100 * (dyn["effective_accuracy_test"]
                                    - best["effective_accuracy_test"]))
            mean = float(np.mean(gains))
            sd = float(np.std(gains, ddof=1)) if len(gains) > 1 else None
            per["gain_points"][f"{trace}:{policy}"] = {"per_network": gains, "mean": mean,
                                                       "sd": sd}
            lines.append([trace, f"dynamic:{policy}", ", ".join(f"{g:+.2f}" for g in gains),
                          f"{mean:+.2f}" + ("" if sd is None else f" ± {sd:.2f}")])
    md = (f"Effective test accuracy of the dynamic policies minus the best static point's "
          f"(chosen on validation), in points, over {len(datas)} trained network(s):\n\n"
          + md_table(["trace", "policy", "per network", "mean ± sd"], lines))
    return per, md


def cap_range(table: OperatingTable) -> tuple[float, float]:
    """Power caps (W) spanning the table: from 0.8x its lowest power (nothing fits) to 1.2x its
    highest (everything fits), so the traces exercise every point whatever the chip model."""
    powers = [p.avg_power_w for p in table.points]
    return 0.8 * min(powers), 1.2 * max(powers)


def simulate_traces(table: OperatingTable, hw, d: float, seed: int) -> tuple[str, dict]:
    """Simulate the ramp and random-walk traces (and a 30 % latency error) on ``table``;
    return the Markdown and the raw results."""
    measured = table.test_accuracies() is not None
    lo, hi = cap_range(table)
    traces = {
        "ramp": f"ramp:duration_s={d},start_w={hi:.4g},end_w={lo:.4g},rate_hz=100,dt_s=0.1",
        "walk": f"walk:duration_s={d},min_w={lo:.4g},max_w={hi:.4g},"
                f"sigma_w={(hi - lo) / 18:.3g},rate_hz=100,dt_s=0.1,seed={seed + 1}",
    }
    kw = dict(deadline_s=0.01, seed=seed, margin=0.05, min_dwell_s=0.2,
              wake_energy_j=hw.subarray.wakeup_energy_j,
              wake_latency_s=hw.subarray.wakeup_latency_s)
    source = ("accuracies measured: validation selects (table, controller, best static point), "
              "effective accuracy also reported on test" if measured else
              "SYNTHETIC case: accuracy assumed, see script docstring")
    results, parts = {}, [f"Operating table: {len(table)} Pareto points of ResNet-20 on "
                          f"{hw.name} ({source}).\n"]

    def cols(r: dict) -> list:
        out = [r["name"], f"{100 * r['mean_accuracy_served']:.2f}",
               f"{100 * r['effective_accuracy']:.2f}"]
        return out + ([f"{100 * r['effective_accuracy_test']:.2f}"] if measured else [])

    split = " (validation)" if measured else " (assumed)"
    acc_head = [f"mean acc. served %{split}", f"effective acc. %{split}"] + \
        (["effective acc. % (test)"] if measured else [])
    for name, spec in traces.items():
        rows = compare(table, parse_spec(spec), **kw)
        best = best_static(rows)
        results[name] = {"spec": spec, "rows": rows, "best_static": best["name"]}
        show = [r for r in rows if r["kind"] == "dynamic"] + [best]
        safe = [r for r in rows if r["kind"] == "static" and r["inferences_over_cap"] == 0]
        hi = max(rows, key=lambda r: r["mean_accuracy_served"] if r["kind"] == "static"
                 else -1)
        if hi is not best:
            show.append(hi)
        parts.append(f"**{name}** (`{spec}`, deadline 10 ms, margin 5 %, dwell 0.2 s): "
                     f"{len(safe)} of {len(table)} static points never run above the cap.\n")
        parts.append(md_table(
            ["run", *acc_head, "energy J", "mJ/inference",
             "deadline misses", "cap-violation windows", "inferences over cap", "switches"],
            [[*cols(r), f"{r['total_energy_j']:.3f}", f"{1e3 * r['energy_per_inference_j']:.4f}",
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
        ["run", *acc_head, "deadline misses", "inferences over cap", "switches"],
        [[*cols(r), r["deadline_misses"], r["inferences_over_cap"], r["switches"]]
         for r in rows]))
    parts.append("")
    parts.append("Rows: both dynamic policies, the best static point (fewest inferences "
                 "run above the cap, then effective accuracy) and the most accurate static point. "
                 "Effective accuracy = sum of accuracy over requests served on time / arrived.")
    md = "\n".join(parts)
    return md, {"table": table.to_dict(), "traces": results,
                "settings": {k: v for k, v in kw.items()}}


if __name__ == "__main__":
    main()
