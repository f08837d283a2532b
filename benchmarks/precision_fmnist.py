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
over ``--seeds`` (targets judged on it) and the sd over seeds of every gap (``spread_sd``).
Each training caches its numbers in ``<runs-dir>/seed<k>/<name>/result.json``
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
    result_path,
    run_commits,
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
                       progress=False, device=a.device, channels_last=a.device == "cpu",
                       # a training killed with its session loses at most 50 steps (minutes
                       # on one CPU thread), not a whole epoch; resuming mid-epoch is exact
                       checkpoint_every=50)


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


# How the joint network derives and trains its lower precisions. A joint run trained (or
# partly trained) under another method is refused, not resumed or reused.
JOINT_METHOD = ("mid-rise weight truncation; every width but the largest at the stored and a "
                "lower precision, the stored pass at weight 3/4 and the lower at 1/4")


def check_method(out: str, recipe: dict) -> None:
    """Refuse to resume a half-trained run whose recorded ``precision_method`` differs (the
    finished ones are checked by ``cached_run``); record it for a new one."""
    path = os.path.join(out, "method.json")
    want = recipe.get("precision_method")
    if os.path.isfile(os.path.join(out, "checkpoint", "meta.json")):
        have = None
        if os.path.isfile(path):
            with open(path) as f:
                have = json.load(f).get("precision_method")
        if have != want:
            raise SystemExit(f"{out} was started with precision method {have!r}, this run "
                             f"uses {want!r}: use another --runs-dir or remove it")
    os.makedirs(out, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"precision_method": want}, f)


def train_one(a, cfg: TrainConfig, splits, seed: int, name: str) -> dict:
    out = os.path.join(a.runs_dir, f"seed{seed}", name)
    cache = os.path.join(out, "result.json")
    recipe = {k: v for k, v in cfg.to_dict().items() if k in RECIPE_KEYS}
    if cfg.precisions:
        recipe["precision_method"] = JOINT_METHOD
    done = cached_run(cache, recipe)
    if done is not None:  # (results cached before commits were recorded get them here)
        return {**done, "commits": done.get("commits") or run_commits(out)}
    check_method(out, recipe)
    # a training killed with its session continues from its last epoch's checkpoint
    resumed = os.path.isfile(os.path.join(out, "checkpoint", "meta.json"))
    res = train(replace(cfg, seed=seed, out=out), splits=splits, resume=resumed)
    model = res.model
    calib = calibration_batches(splits, batch_size=256, num_batches=cfg.calib_batches)
    widths = WIDTHS if cfg.mode == "dynamic" else (cfg.width,)
    bits_list = [None, *model.precisions[1:]]
    # training compute, summed over every session it ran in
    done = {"name": name, "seed": seed, "time_s": round(compute_seconds(out), 1),
            "resumed": resumed, "commits": run_commits(out), "recipe": recipe,
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
    """The issue's two criteria. The fronts, the joint point that reaches the width-only front's
    cheapest accuracy and the cheapest-quarter points are *selected* on validation; the
    accuracies compared are *reported* on test (validation beside them)."""
    jf, wf = pareto(joint, cost), pareto(width_only, cost)
    cheapest = wf[0]
    reach = [p for p in jf if p["top1_validation"] >= cheapest["top1_validation"]]
    hit = min(reach, key=lambda p: p[cost]) if reach else None
    lo, hi = wf[0][cost], wf[-1][cost]
    quarter = [p for p in jf if lo <= p[cost] <= lo + (hi - lo) / 4]
    half = [p for p in jf if lo <= p[cost] <= lo + (hi - lo) / 2]
    wc = [p[cost] for p in wf]

    def gain(split: str, points: list[dict]) -> float | None:
        key = f"top1_{split}"
        acc = [p[key] for p in wf]
        g = [p[key] - float(np.interp(p[cost], wc, acc)) for p in points]
        return statistics.mean(g) if g else None

    # equal accuracy over the cheap half: each width-only front point there against the
    # cheapest joint front point at least as accurate on validation
    matched = []
    for q in wf:
        r = [p for p in jf if p["top1_validation"] >= q["top1_validation"]]
        if q[cost] <= lo + (hi - lo) / 2 and r:
            matched.append((q, min(r, key=lambda p: p[cost])))
    return {"ratio_at_cheapest_accuracy": hit[cost] / cheapest[cost] if hit else None,
            "reaching_point": None if hit is None else [hit["width"], hit["bits"]],
            "reaching_point_test_gap": None if hit is None
            else hit["top1_test"] - cheapest["top1_test"],
            "mean_gain_cheapest_quarter": gain("test", quarter),
            "mean_gain_cheapest_quarter_validation": gain("validation", quarter),
            "cheapest_quarter_points": len(quarter),
            "cheap_half": {
                "mean_ratio_at_equal_accuracy": statistics.mean(
                    p[cost] / q[cost] for q, p in matched) if matched else None,
                "mean_test_gap_at_equal_accuracy": statistics.mean(
                    p["top1_test"] - q["top1_test"] for q, p in matched) if matched else None,
                "matched_width_only_points": len(matched),
                "mean_gain_at_equal_energy": gain("test", half),
                "mean_gain_at_equal_energy_validation": gain("validation", half),
                "joint_points": len(half)},
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
        # the controls first, the joint network last (its training recipe is the part most
        # likely to change, see docs/quantization.md; the controls' cached runs stay valid)
        runs = {"width_only": train_one(a, replace(base, **dyn), splits, seed, "width_only")}
        for w, ab in parse_precisions(a.dedicated):
            cfg = replace(base, mode="individual", width=1.0, wbits=w, abits=ab,
                          sampling="uniform", **ded)
            runs[f"dedicated_w{w}a{ab}"] = train_one(a, cfg, splits, seed, f"dedicated_w{w}a{ab}")
        runs["joint"] = train_one(a, replace(base, precisions=a.precisions, **dyn), splits, seed,
                                  "joint")
        per_seed[seed] = {"joint": runs.pop("joint"), **runs}
    result = summarise(per_seed)
    out = a.out
    if a.quick and out is None:  # never where the real result goes, committed or not
        out = os.path.join(HERE, "..", "runs", "benchmarks", "precision_fmnist_quick.json")
    path = result_path("precision_fmnist", path=out, quick=a.quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    plots = []
    for key, tag in (("energy_j", "energy"), ("latency_s", "latency")):
        plots.append(f"{path.stem}_{tag}.png")
        plot(result, key, str(path.parent / plots[-1]),
             "digits (quick)" if a.quick else "Fashion-MNIST")
    write_result("precision_fmnist", {**result, "seeds": seeds, "settings": base.to_dict(),
                                      "recipes": recipes or None, "plots": plots,
                                      "accuracy_split": {"selection (fronts)": "validation",
                                                         "reported": "test"}},
                 markdown=markdown(result), path=out, quick=a.quick)
    print(markdown(result))


def plot(r: dict, key: str, path: str, dataset: str = "Fashion-MNIST") -> None:
    """Mean test top-1 vs PIM cost: the joint network's points by precision, its front (chosen
    on validation) as a line, the width-only network and the dedicated networks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, unit = (1e6, "µJ") if key == "energy_j" else (1e6, "µs")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    joint = r["points"]["joint"]
    for i, bits in enumerate(sorted({tuple(p["bits"]) for p in joint}, reverse=True)):
        pts = sorted((p for p in joint if tuple(p["bits"]) == bits), key=lambda p: p[key])
        ax.plot([p[key] * scale for p in pts], [p["top1_test"] for p in pts], "o", ms=4,
                color=f"C{i + 2}", alpha=0.7, label=f"joint at {bits[0]}/{bits[1]}")
    front = pareto(joint, key)
    ax.plot([p[key] * scale for p in front], [p["top1_test"] for p in front], "-", color="C1",
            lw=1.4, label="joint front (validation)")
    wo = sorted(r["points"]["width_only"], key=lambda p: p[key])
    ax.plot([p[key] * scale for p in wo], [p["top1_test"] for p in wo], "s--", color="C0",
            ms=5, lw=1.4, label="width-only 8-bit")
    for name, ps in r["points"].items():
        if name.startswith("dedicated"):
            ax.plot([ps[0][key] * scale], [ps[0]["top1_test"]], "*", ms=10, color="k",
                    alpha=0.6)
            ax.annotate(name.replace("dedicated_", "dedicated "), (ps[0][key] * scale,
                        ps[0]["top1_test"]), fontsize=7, xytext=(4, -10),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(f"PIM {'energy' if key == 'energy_j' else 'latency'} per inference ({unit}, "
                  "log scale)")
    ax.set_ylabel("test top-1 (%, mean over seeds)")
    ax.set_title(f"ResNet-20 / {dataset}: width x precision, SOT-MRAM PIM model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean(rows: list[dict], key: str) -> float:
    return statistics.mean(r[key] for r in rows)


def _sd(vals: list[float]) -> float | None:
    return statistics.stdev(vals) if len(vals) > 1 else None


def gaps(points: dict[str, list[dict]]) -> tuple[dict[str, float], dict[str, float]]:
    """Test top-1 gaps in points: joint minus width-only at the stored precision per width, and
    joint full width minus each dedicated network at its precision."""
    top = tuple(points["width_only"][0]["bits"])
    wo = {p["width"]: p for p in points["width_only"]}
    joint8 = {p["width"]: p for p in points["joint"] if tuple(p["bits"]) == top}
    width_gaps = {f"{w:g}": joint8[w]["top1_test"] - wo[w]["top1_test"]
                  for w in wo if w in joint8}
    ded_gaps = {}
    for name, ps in points.items():
        if name.startswith("dedicated"):
            j = [p for p in points["joint"] if p["width"] == 1.0 and p["bits"] == ps[0]["bits"]]
            if j:
                ded_gaps[name] = j[0]["top1_test"] - ps[0]["top1_test"]
    return width_gaps, ded_gaps


def summarise(per_seed: dict) -> dict:
    """Mean over seeds of every (run, width, bits) point; the gaps and the fronts on the mean
    (targets judged there) and per seed (their standard deviation: the spread)."""
    pts: dict[str, dict[tuple, list]] = {}
    for runs in per_seed.values():
        for name, run in runs.items():
            for p in run["points"]:
                pts.setdefault(name, {}).setdefault((p["width"], tuple(p["bits"])), []).append(p)
    keys = ("top1_validation", "top1_test", "energy_j", "latency_s")
    mean = {name: [{"width": w, "bits": list(b), "n": len(rs),
                    **{k: _mean(rs, k) for k in keys},
                    "top1_test_sd": _sd([r["top1_test"] for r in rs])}
                   for (w, b), rs in sorted(d.items())] for name, d in pts.items()}
    width_gaps, ded_gaps = gaps(mean)
    fronts = {c: compare_fronts(mean["joint"], mean["width_only"], c)
              for c in ("energy_j", "latency_s")}
    seeds = [{name: run["points"] for name, run in runs.items()} for runs in per_seed.values()]
    fronts_per_seed = {c: [compare_fronts(s["joint"], s["width_only"], c) for s in seeds]
                       for c in ("energy_j", "latency_s")}
    per = [(gaps(s), f) for s, f in zip(seeds, fronts_per_seed["energy_j"])]
    spread = {"gap_joint_vs_width_only_8bit": {w: _sd([g[0][0][w] for g in per])
                                               for w in width_gaps},
              "gap_joint_vs_dedicated": {k: _sd([g[0][1][k] for g in per]) for k in ded_gaps},
              "energy_ratio_at_cheapest_accuracy": _sd(
                  [f["ratio_at_cheapest_accuracy"] for _, f in per
                   if f["ratio_at_cheapest_accuracy"] is not None]),
              "energy_mean_gain_cheapest_quarter": _sd(
                  [f["mean_gain_cheapest_quarter"] for _, f in per
                   if f["mean_gain_cheapest_quarter"] is not None]),
              "cheap_half": {c: {k: _sd([v for f in fronts_per_seed[c]
                                         if (v := f["cheap_half"][k]) is not None])
                                     for k in ("mean_ratio_at_equal_accuracy",
                                               "mean_gain_at_equal_energy")}
                             for c in ("energy_j", "latency_s")}}
    e = fronts["energy_j"]
    ded44 = ded_gaps.get("dedicated_w4a4")
    targets = {"joint_within_0.5_of_width_only_8bit": bool(width_gaps)
               and min(width_gaps.values()) >= -0.5,
               "joint_within_1.5_of_dedicated_4_4": ded44 is not None and ded44 >= -1.5,
               "energy_ratio_at_most_0.5": e["ratio_at_cheapest_accuracy"] is not None
               and e["ratio_at_cheapest_accuracy"] <= 0.5,
               "energy_gain_at_least_1_point": e["mean_gain_cheapest_quarter"] is not None
               and e["mean_gain_cheapest_quarter"] >= 1.0}
    targets["energy_either"] = (targets["energy_ratio_at_most_0.5"]
                                or targets["energy_gain_at_least_1_point"])
    # what trained each network: compute seconds summed over sessions, and their commits
    trained = {str(seed): {name: {k: run.get(k) for k in ("time_s", "resumed", "commits")}
                           for name, run in runs.items()} for seed, runs in per_seed.items()}
    per_seed_gaps = {str(seed): {"gap_joint_vs_width_only_8bit": g[0][0],
                                 "gap_joint_vs_dedicated": g[0][1]}
                     for seed, g in zip(per_seed, per)}
    return {"points": mean, "runs": trained, "gap_joint_vs_width_only_8bit": width_gaps,
            "gap_joint_vs_dedicated": ded_gaps, "gaps_per_seed": per_seed_gaps,
            "fronts": fronts, "spread_sd": spread,
            "targets": targets, "targets_judged_on": "mean over seeds"}


def _pm(v: float | None, sd: float | None, fmt: str = "+.2f") -> str:
    if v is None:
        return "—"
    return f"{v:{fmt}}" + ("" if sd is None else f" ± {sd:.2f}")


def markdown(r: dict) -> str:
    rows = [[name, f"{p['width']:g}", f"{p['bits'][0]}/{p['bits'][1]}",
             f"{p['top1_validation']:.2f}", _pm(p["top1_test"], p.get("top1_test_sd"), ".2f"),
             f"{p['energy_j'] * 1e6:.1f}", f"{p['latency_s'] * 1e6:.0f}"]
            for name, ps in r["points"].items() for p in ps]
    md = md_table(["network", "width", "W/A", "top-1 % (validation, mean)",
                   "top-1 % (test, mean ± sd)", "energy (µJ)", "latency (µs)"], rows)
    e, sd, t = r["fronts"]["energy_j"], r["spread_sd"], r["targets"]
    ratio = e["ratio_at_cheapest_accuracy"]

    def met(key: str) -> str:
        return "met" if t[key] else "NOT met"

    md += ("\n\nMean over seeds ± sd over seeds; gaps in points of test top-1. Joint minus "
           "width-only at the stored precision, per width: "
           + ", ".join(f"{w}: {_pm(g, sd['gap_joint_vs_width_only_8bit'].get(w))}"
                       for w, g in r["gap_joint_vs_width_only_8bit"].items())
           + f" (target >= -0.5 at every width: {met('joint_within_0.5_of_width_only_8bit')}"
           + "; worst width per seed: " + ", ".join(
               f"seed {s}: {min(g.values()):+.2f} at {min(g, key=g.get)}"
               for s, d in r.get("gaps_per_seed", {}).items()
               if (g := d["gap_joint_vs_width_only_8bit"])) + "). "
           "Joint full width minus dedicated: "
           + ", ".join(f"{k}: {_pm(g, sd['gap_joint_vs_dedicated'].get(k))}"
                       for k, g in r["gap_joint_vs_dedicated"].items())
           + f" (target >= -1.5 at 4/4: {met('joint_within_1.5_of_dedicated_4_4')}). PIM energy "
           "(fronts and points selected on validation, accuracies reported on test): the joint "
           "front reaches the width-only front's cheapest validation accuracy at "
           + _pm(ratio, sd["energy_ratio_at_cheapest_accuracy"], ".2f")
           + ("" if ratio is None else "x")
           + f" its energy (target <= 0.5x: {met('energy_ratio_at_most_0.5')}"
           + ("" if e["reaching_point_test_gap"] is None else
              f"; that point's test top-1 minus the width-only cheapest: "
              f"{e['reaching_point_test_gap']:+.2f}")
           + "); mean gain at equal energy in the cheapest quarter of the width-only range "
           + _pm(e["mean_gain_cheapest_quarter"], sd["energy_mean_gain_cheapest_quarter"])
           + " points on test ("
           + _pm(e["mean_gain_cheapest_quarter_validation"], None)
           + f" on validation; {e['cheapest_quarter_points']} joint front points; target "
           f">= +1: {met('energy_gain_at_least_1_point')}). Energy criterion (either): "
           f"{met('energy_either')}.")
    for cost, name in (("energy_j", "energy"), ("latency_s", "latency")):
        h = r["fronts"][cost]["cheap_half"]
        ratio = h["mean_ratio_at_equal_accuracy"]
        spread = sd.get("cheap_half", {}).get(cost, {})
        sd_ratio = spread.get("mean_ratio_at_equal_accuracy")
        sd_gain = spread.get("mean_gain_at_equal_energy")
        md += (f" Cheap half of the width-only {name} range: at equal validation accuracy the "
               "joint front needs on average " + _pm(ratio, sd_ratio, ".2f")
               + ("" if ratio is None else "x")
               + f" the width-only {name} ({h['matched_width_only_points']} width-only points; "
               "test top-1 of the joint points minus theirs "
               + _pm(h["mean_test_gap_at_equal_accuracy"], None)
               + f"); at equal {name} it is " + _pm(h["mean_gain_at_equal_energy"], sd_gain)
               + f" points more accurate on test ({h['joint_points']} joint front points).")
    md += "\n\nTraining compute per seed (summed over the sessions a run was resumed in): " + \
        "; ".join(f"seed {s}: " + ", ".join(
            f"{name} {run['time_s'] / 3600:.1f} h" for name, run in runs.items()
            if run.get("time_s") is not None) for s, runs in r.get("runs", {}).items()) + \
        " (the commits each run trained at: `runs` in the raw results)."
    return md


if __name__ == "__main__":
    main()
