"""Run-time precision on Fashion-MNIST (issue 17): one ResNet-20 switchable in width and in
precision, against the width-only 8-bit network and dedicated fixed-precision networks.

Trainings per seed (same recipe, epochs and validation split for all):

* ``joint``: W8/A8 with ``--precisions`` (default 6/6,4/4,3/3,2/2): the sandwich over widths
  and precisions (``dynpim train --precisions``);
* ``width_only``: W8/A8, widths only (the fair control of the joint network);
* ``dedicated_<w>a<a>``: full width only, trained at that precision (default 4/4 and 2/2).

Every (width, precision) point is evaluated on the validation split (5,000 training images;
BN calibrated per point on training batches) and on the test split, and costed on the PIM model
(default preset and mapping, all sub-arrays powered). The fronts (accuracy vs PIM energy, and
vs latency) are *selected* on validation; their test accuracies are *reported*. Results: mean
over ``--seeds``. Each training caches its numbers in ``<runs-dir>/seed<k>/<name>/result.json``
(resumable across sessions; keep ``--runs-dir`` outside the work tree).

    python benchmarks/precision_fmnist.py --device cpu --seeds 0,1 --runs-dir /var/tmp/prec \
        --recipes benchmarks/results/sandwich_ablation.json   # recipes chosen on validation
    python benchmarks/precision_fmnist.py --quick       # smoke run on digits, ~1 min

Targets (issue 17): joint within 0.5 points of width-only at 8/8 at every width; joint full
width at 4/4 within 1.5 points of the dedicated 4/4 network; on PIM energy, the joint front
reaches the width-only front's lowest-energy accuracy at <= 0.5x its energy, or is >= +1 point
more accurate at equal energy in the cheapest quarter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import replace

import numpy as np

from dynpim import pim
from dynpim.data import load_dataset
from dynpim.nn import SubnetConfig
from dynpim.nn.precision import parse_precisions
from dynpim.train import TrainConfig, calibration_batches, evaluate_configs, train

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import (  # noqa: E402
    RECIPE_KEYS,
    add_provenance_args,
    cached_run,
    compute_seconds,
    load_recipes,
    md_table,
    start_run,
    write_result,
)

WIDTHS = (0.25, 0.5, 0.75, 1.0)


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--precisions", default="6/6,4/4,3/3,2/2")
    ap.add_argument("--dedicated", default="4/4,2/2", help="full-width fixed-precision controls")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--recipes", metavar="JSON", default=None,
                    help="recipes chosen on validation by sandwich_ablation: the joint and the "
                    "width-only network train with its dynamic recipe, the dedicated "
                    "fixed-precision networks with its full-width individual recipe (overrides "
                    "--lr); default: --lr for every network, hard labels")
    ap.add_argument("--runs-dir", default="/var/tmp/precision_fmnist")
    ap.add_argument("--data-dir")
    ap.add_argument("--quick", action="store_true", help="digits, 1 epoch, a few steps")
    ap.add_argument("--out", help="result path (default: benchmarks/results/precision_fmnist.json"
                    "; a --quick run never overwrites it)")
    add_provenance_args(ap)
    return ap.parse_args()


def base_config(a: argparse.Namespace) -> TrainConfig:
    if a.quick:
        return TrainConfig(model="resnet20", dataset="digits", wbits=8, abits=8, epochs=1,
                           max_steps=4, batch_size=64, sampling="discrete", subnet_loss="labels",
                           progress=False, calib_batches=2, device=a.device)
    return TrainConfig(model="resnet20", dataset="fashion-mnist", data_dir=a.data_dir,
                       holdout=5000, wbits=8, abits=8, epochs=a.epochs, batch_size=a.batch_size,
                       lr=a.lr, warmup_epochs=1.0, sampling="discrete", subnet_loss="labels",
                       progress=False, device=a.device, channels_last=a.device == "cpu")


def evaluate_points(model, splits, widths, bits_list, calib) -> list[dict]:
    """Validation and test top-1 (%) and PIM cost of every (width, precision)."""
    hw = pim.load_preset()
    rows = []
    for bits in bits_list:
        with model.precision(bits):
            cfgs = [SubnetConfig.uniform(model, w) for w in widths]
            val = evaluate_configs(model, cfgs, splits, calib, split="validation")
            test = evaluate_configs(model, cfgs, splits, None, split="test")
            by_key = {r["config"]: r for r in val}
            tby_key = {r["config"]: r for r in test}
            for w, c in zip(widths, cfgs):
                r = pim.estimate(model, c, hw, input_size=splits.input_size)
                prec = model.current_precision
                rows.append({"width": w, "bits": list(prec),
                             "top1_validation": by_key[c.key]["top1_validation"],
                             "top1_test": tby_key[c.key]["top1_test"],
                             "energy_j": r.energy_j, "latency_s": r.latency_s})
    return rows


def train_one(a, cfg: TrainConfig, splits, seed: int, name: str) -> dict:
    out = os.path.join(a.runs_dir, f"seed{seed}", name)
    cache = os.path.join(out, "result.json")
    recipe = {k: v for k, v in cfg.to_dict().items() if k in RECIPE_KEYS}
    done = cached_run(cache, recipe)
    if done is not None:
        return done
    # a training killed with its session continues from its last epoch's checkpoint
    resumed = os.path.isfile(os.path.join(out, "checkpoint", "meta.json"))
    res = train(replace(cfg, seed=seed, out=out), splits=splits, resume=resumed)
    model = res.model
    calib = calibration_batches(splits, batch_size=256, num_batches=cfg.calib_batches)
    widths = WIDTHS if cfg.mode == "dynamic" else (cfg.width,)
    bits_list = [None, *model.precisions[1:]]
    # training compute, summed over every session it ran in
    done = {"name": name, "seed": seed, "time_s": round(compute_seconds(out), 1),
            "resumed": resumed, "recipe": recipe,
            "points": evaluate_points(model, splits, widths, bits_list, calib)}
    with open(cache, "w") as f:
        json.dump(done, f)
    print(f"{name} (seed {seed}): {done['time_s']:.0f} s", flush=True)
    return done


def pareto(points: list[dict], cost: str) -> list[dict]:
    """Points not dominated on (validation accuracy up, ``cost`` down)."""
    out = [p for p in points if not any(
        q["top1_validation"] >= p["top1_validation"] and q[cost] < p[cost]
        or q["top1_validation"] > p["top1_validation"] and q[cost] <= p[cost] for q in points)]
    return sorted(out, key=lambda p: p[cost])


def compare_fronts(joint: list[dict], width_only: list[dict], cost: str) -> dict:
    """The issue's two criteria, selected on validation: energy ratio at which the joint front
    reaches the width-only front's cheapest accuracy, and the mean validation gain at equal
    cost over the cheapest quarter of the width-only cost range."""
    jf, wf = pareto(joint, cost), pareto(width_only, cost)
    target = wf[0]["top1_validation"]
    reach = [p[cost] for p in jf if p["top1_validation"] >= target]
    ratio = min(reach) / wf[0][cost] if reach else None
    lo, hi = wf[0][cost], wf[-1][cost]
    quarter = [p for p in jf if lo <= p[cost] <= lo + (hi - lo) / 4]
    wc, wa = [p[cost] for p in wf], [p["top1_validation"] for p in wf]
    gains = [p["top1_validation"] - float(np.interp(p[cost], wc, wa)) for p in quarter]
    return {"ratio_at_cheapest_accuracy": ratio,
            "mean_gain_cheapest_quarter": statistics.mean(gains) if gains else None,
            "joint_front": [(p["width"], p["bits"]) for p in jf],
            "width_only_front": [(p["width"], p["bits"]) for p in wf]}


def main() -> None:
    a = parse()
    start_run(a.allow_dirty)
    base = base_config(a)
    splits = load_dataset(base.dataset, data_dir=base.data_dir, holdout=base.holdout)
    seeds = [int(s) for s in a.seeds.split(",")]
    recipes = load_recipes(a.recipes) if a.recipes else {}
    dyn = {k: v for k, v in recipes.get("dynamic", {}).items() if k in RECIPE_KEYS}
    ded = {k: v for k, v in recipes.get("individual_1", {}).items()
           if k in ("lr", "weight_decay")}
    per_seed = {}
    for seed in seeds:
        runs = {"joint": train_one(a, replace(base, precisions=a.precisions, **dyn), splits,
                                   seed, "joint"),
                "width_only": train_one(a, replace(base, **dyn), splits, seed, "width_only")}
        for w, ab in parse_precisions(a.dedicated):
            cfg = replace(base, mode="individual", width=1.0, wbits=w, abits=ab,
                          sampling="uniform", **ded)
            runs[f"dedicated_w{w}a{ab}"] = train_one(a, cfg, splits, seed, f"dedicated_w{w}a{ab}")
        per_seed[seed] = runs
    result = summarise(per_seed)
    out = a.out
    if a.quick and out is None:  # never where the real result goes, committed or not
        out = os.path.join(HERE, "..", "runs", "benchmarks", "precision_fmnist_quick.json")
    write_result("precision_fmnist", {**result, "seeds": seeds, "settings": base.to_dict(),
                                      "recipes": recipes or None,
                                      "accuracy_split": {"selection (fronts)": "validation",
                                                         "reported": "test"}},
                 markdown=markdown(result), path=out, quick=a.quick)
    print(markdown(result))


def _mean(rows: list[dict], key: str) -> float:
    return statistics.mean(r[key] for r in rows)


def summarise(per_seed: dict) -> dict:
    """Mean over seeds of every (run, width, bits) point, the fronts and the targets."""
    pts: dict[str, dict[tuple, list]] = {}
    for runs in per_seed.values():
        for name, run in runs.items():
            for p in run["points"]:
                pts.setdefault(name, {}).setdefault((p["width"], tuple(p["bits"])), []).append(p)
    mean = {name: [{"width": w, "bits": list(b), "n": len(rs),
                    **{k: _mean(rs, k) for k in ("top1_validation", "top1_test", "energy_j",
                                                  "latency_s")}}
                   for (w, b), rs in sorted(d.items())] for name, d in pts.items()}
    top = tuple(mean["width_only"][0]["bits"])
    wo = {p["width"]: p for p in mean["width_only"]}
    joint8 = {p["width"]: p for p in mean["joint"] if tuple(p["bits"]) == top}
    gaps = {f"{w:g}": joint8[w]["top1_test"] - wo[w]["top1_test"] for w in wo if w in joint8}
    ded = {name: m[0] for name, m in mean.items() if name.startswith("dedicated")}
    ded_gaps = {}
    for name, d in ded.items():
        j = [p for p in mean["joint"] if p["width"] == 1.0 and p["bits"] == d["bits"]]
        if j:
            ded_gaps[name] = j[0]["top1_test"] - d["top1_test"]
    fronts = {c: compare_fronts(mean["joint"], mean["width_only"], c)
              for c in ("energy_j", "latency_s")}
    return {"points": mean, "gap_joint_vs_width_only_8bit": gaps,
            "gap_joint_vs_dedicated": ded_gaps, "fronts": fronts}


def markdown(r: dict) -> str:
    rows = [[name, f"{p['width']:g}", f"{p['bits'][0]}/{p['bits'][1]}",
             f"{p['top1_validation']:.2f}", f"{p['top1_test']:.2f}",
             f"{p['energy_j'] * 1e6:.1f}", f"{p['latency_s'] * 1e6:.0f}"]
            for name, ps in r["points"].items() for p in ps]
    md = md_table(["network", "width", "W/A", "top-1 % (validation)", "top-1 % (test)",
                   "energy (µJ)", "latency (µs)"], rows)
    e = r["fronts"]["energy_j"]
    ratio = e["ratio_at_cheapest_accuracy"]
    gain = e["mean_gain_cheapest_quarter"]
    md += ("\n\nJoint minus width-only at the stored precision, test, per width: "
           + ", ".join(f"{w}: {g:+.2f}" for w, g in r["gap_joint_vs_width_only_8bit"].items())
           + " (target >= -0.5). Joint full width minus dedicated: "
           + ", ".join(f"{k}: {g:+.2f}" for k, g in r["gap_joint_vs_dedicated"].items())
           + " (target >= -1.5 at 4/4). PIM energy (fronts selected on validation): the joint "
           f"front reaches the width-only front's cheapest accuracy at "
           f"{'—' if ratio is None else f'{ratio:.2f}x'} its energy (target <= 0.5x); mean "
           f"validation gain at equal energy in the cheapest quarter "
           f"{'—' if gain is None else f'{gain:+.2f}'} points (target >= +1).")
    return md


if __name__ == "__main__":
    main()
