"""The papers' pipeline (DAC'20 / TNNLS'22) against a US-Nets baseline, ResNet-20 on
Fashion-MNIST, compared at equal MACs (as TNNLS compares at equal model size).

Per seed:

1. ``papers``: ``dynpim search --recipe papers`` -- a full-width ResNet-20 trained individually
   for E epochs, L1 channel ranking, progressive search (accuracy rule) with selective
   fine-tuning (plain SGD until held-out accuracy is back above 0.5, capped at 2 epochs), the
   authors' local filter re-scored on the final weights, then a dynamic ResNet-20 retrained from
   scratch for E epochs on the filtered configs (sandwich rule).
2. ``usnets``: a dynamic ResNet-20 trained for the same E epochs with US-Nets' sampling (uniform
   width ratio in [0.25, 1] per sub-net, in-place distillation); the model is ``resnet20_fine``
   (the same network, every channel count valid) so the widths form US-Nets' continuum, and it
   is evaluated on a 0.05 width grid (0.25, 0.30, ..., 1.00).
3. Every sub-net of both networks is measured on the validation split (carved from the training
   data) and on the test split. At every MACs level where both networks have sub-nets (the
   US-Nets grid inside the common range), each side's sub-net is the one with the best
   *validation* accuracy among its sub-nets within that MACs; its *test* accuracy is reported.
   ``gap`` = papers minus usnets, in points; the levels are the MACs of every sub-net of either
   side inside the common range; the target: gap >= 0 at every level and >= +0.3 on average,
   mean of the seeds (levels present in every seed; with searched configs differing per seed,
   the mean is over levels pooled per seed when no level is shared).
4. The CPU latency of the chosen sub-nets (``dynpim.search.latency``: exported static modules,
   batch 1, 1 thread, warm-up then the median of repeats).

Budget note: the papers' side also spends E epochs on the pre-training and the search's
fine-tuning steps; US-Nets trains once. Both final networks train for E epochs.

Writes ``benchmarks/results/search_papers_fmnist.json``: ``papers`` and ``usnets`` (point lists
``{seed, config, macs, accuracy, validation_accuracy}``; accuracy = test top-1, fraction),
``levels`` (per MACs level and seed: the chosen sub-nets, their test accuracies and CPU
latencies) and ``summary`` (mean gap per level over seeds, mean and minimum gap, target).

    python benchmarks/search_papers_fmnist.py --epochs 15 --seeds 0,1 --threads 2
    python benchmarks/search_papers_fmnist.py --quick      # digits smoke run, a few minutes

``--quick`` (digits, 1 epoch, 4 search steps) never overwrites the committed result (see
``_common.result_path``). Finished seeds are cached in ``<runs-dir>/seed<k>/result.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import (  # noqa: E402
    SCRATCH,
    add_provenance_args,
    compute_seconds,
    md_table,
    result_path,
    start_run,
    write_result,
)

from dynpim.data import load_dataset  # noqa: E402
from dynpim.nn import SubnetConfig, load_configs  # noqa: E402
from dynpim.search import HoldoutEvaluator  # noqa: E402
from dynpim.search.latency import measure_latency  # noqa: E402
from dynpim.stages.search import SearchRunOptions, search  # noqa: E402
from dynpim.train import (  # noqa: E402
    TrainConfig,
    calibration_batches,
    load_checkpoint,
    train,
    training_state,
)

NAME = "search_papers_fmnist"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=15, help="pre-training, retraining and "
                   "US-Nets epochs (default 15)")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir")
    p.add_argument("--holdout", type=int, default=2500, help="validation images scoring the "
                   "search's candidates (default 2500)")
    p.add_argument("--group-divisor", type=int, default=8)
    p.add_argument("--max-steps", type=int, help="cap the search (default: to the minimum)")
    p.add_argument("--calib-batches", type=int, default=20,
                   help="BN calibration batches per evaluated sub-net (default 20)")
    p.add_argument("--repeats", type=int, default=50, help="timed latency runs (default 50)")
    p.add_argument("--threads", type=int, help="torch threads for training and search")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default="runs/search_papers_fmnist")
    p.add_argument("--out", help="result JSON (default benchmarks/results/<name>.json)")
    p.add_argument("--quick", action="store_true",
                   help="digits, 1 epoch, 4 search steps: a smoke run (scratch result path)")
    add_provenance_args(p)
    a = p.parse_args(argv)
    if a.quick:
        a.dataset, a.epochs, a.holdout, a.max_steps = "digits", 1, 300, a.max_steps or 4
        a.calib_batches, a.repeats = 2, 5
        a.runs_dir = a.runs_dir + "_quick"
    a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    if not a.seeds or a.epochs < 1:
        raise SystemExit("need at least one seed and --epochs >= 1")
    return a


def usnets_widths() -> list[float]:
    """US-Nets' evaluation grid: 0.25 to 1.0 in steps of 0.05."""
    return [round(0.25 + 0.05 * i, 2) for i in range(16)]


def run_papers(a: argparse.Namespace, seed: int, out: str) -> tuple[str, str]:
    """The papers' pipeline in one stage call (what ``dynpim search --recipe papers`` runs);
    returns (retrained checkpoint, chosen.json)."""
    quick = {"calib_batches": 1, "calib_batch_size": 64, "finetune_steps": 8,
             "finetune_check_every": 4} if a.quick else {}
    opts = SearchRunOptions(recipe="papers", model="resnet20", dataset=a.dataset,
                            pretrain_epochs=a.epochs, retrain_epochs=a.epochs,
                            holdout=a.holdout, group_divisor=a.group_divisor, seed=seed,
                            device=a.device, out=out, resume=True, data_dir=a.data_dir or None,
                            max_steps=a.max_steps, threads=a.threads or None,
                            channels_last=a.device == "cpu", **quick)
    search(opts, log=lambda line: print(line, file=sys.stderr, flush=True),
           warn=lambda msg: print(f"dynpim search: warning: {msg}", file=sys.stderr))
    return os.path.join(out, "retrained", "checkpoint"), os.path.join(out, "chosen.json")


def run_usnets(a: argparse.Namespace, seed: int, out: str) -> str:
    """US-Nets baseline: uniform sampling over every channel count, same epochs."""
    ck = os.path.join(out, "checkpoint")
    state = training_state(ck)  # a training killed with its session has a partial one
    if state == "finished":
        return ck
    cfg = TrainConfig(model="resnet20_fine", dataset=a.dataset, data_dir=a.data_dir,
                      mode="dynamic", sampling="uniform", min_width=0.25, max_width=1.0,
                      epochs=a.epochs, seed=seed, out=out, device=a.device, progress=False,
                      calib_batches=a.calib_batches, channels_last=a.device == "cpu")
    res = train(cfg, log=lambda s: print(s, flush=True), resume=state == "partial")
    assert res.checkpoint is not None
    return res.checkpoint


def measure(ck: str, cfgs: list[SubnetConfig], a: argparse.Namespace, seed: int) -> list[dict]:
    """Validation and test top-1 of every config (BN calibrated per config on training data)."""
    c = load_checkpoint(ck, map_location=a.device)
    tc = c.meta["train_config"]
    splits = load_dataset(tc["dataset"], data_dir=a.data_dir or tc.get("data_dir"),
                          split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout")
                          ).to(a.device)
    model = c.model.to(a.device)
    calib = calibration_batches(splits, batch_size=128, num_batches=a.calib_batches, seed=seed)
    val = HoldoutEvaluator(splits.validation_x, splits.validation_y, calib)(model, cfgs)
    test = HoldoutEvaluator(splits.test_x, splits.test_y, calib)(model, cfgs)
    return [{"seed": seed, "config": list(cf.widths), "macs": int(model.macs(cf)),
             "validation_accuracy": float(v), "accuracy": float(t)}
            for cf, v, t in zip(cfgs, val, test)]


def best_within(points: list[dict], macs: float) -> dict | None:
    """The sub-net with the best validation accuracy among those with at most ``macs``."""
    ok = [p for p in points if p["macs"] <= macs]
    return max(ok, key=lambda p: (p["validation_accuracy"], -p["macs"])) if ok else None


def compare(papers: list[dict], usnets: list[dict]) -> list[dict]:
    """Per MACs level (every sub-net's MACs, either side, inside the range both cover): both
    sides' validation-selected sub-nets within that MACs and the test gap in points."""
    lo = max(min(p["macs"] for p in papers), min(p["macs"] for p in usnets))
    hi = min(max(p["macs"] for p in papers), max(p["macs"] for p in usnets))
    out = []
    for level in sorted({p["macs"] for p in papers + usnets if lo <= p["macs"] <= hi}):
        pa, us = best_within(papers, level), best_within(usnets, level)
        if pa is None or us is None:
            continue
        out.append({"macs": level, "papers": pa, "usnets": us,
                    "gap_points": 100 * (pa["accuracy"] - us["accuracy"])})
    return out


def add_latency(levels: list[dict], ck: dict[str, str], a: argparse.Namespace) -> None:
    """CPU latency (1 thread, batch 1, median) of every chosen sub-net, in place."""
    for side in ("papers", "usnets"):
        model = load_checkpoint(ck[side]).model
        cfgs = list(dict.fromkeys(SubnetConfig(lv[side]["config"]) for lv in levels))
        if not cfgs:
            continue
        res = measure_latency(model, cfgs, threads=[1], warmup=max(2, a.repeats // 5),
                              repeats=a.repeats)
        med = {p["key"]: p["median_s"] for p in res["points"]}
        for lv in levels:
            lv[side]["cpu_latency_s"] = med[SubnetConfig(lv[side]["config"]).key]
        levels_meta = {k: res[k] for k in ("device", "device_name", "threads", "batch_size",
                                           "warmup", "repeats")}
        for lv in levels:
            lv["latency_measurement"] = levels_meta


def run_seed(a: argparse.Namespace, seed: int) -> dict:
    base = os.path.join(a.runs_dir, f"seed{seed}")
    cached = os.path.join(base, "result.json")
    if os.path.isfile(cached):
        with open(cached) as f:
            return json.load(f)
    pa_ck, chosen = run_papers(a, seed, os.path.join(base, "papers"))
    us_ck = run_usnets(a, seed, os.path.join(base, "usnets"))
    # compute, summed over every session each part ran in: pre-training, search, retraining
    t_papers = sum(compute_seconds(os.path.join(base, "papers", d))
                   for d in ("pretrained", "", "retrained"))
    t_usnets = compute_seconds(os.path.join(base, "usnets"))
    us_model = load_checkpoint(us_ck).model
    us_cfgs = list(dict.fromkeys(SubnetConfig.uniform(us_model, w) for w in usnets_widths()))
    papers = measure(pa_ck, load_configs(chosen), a, seed)
    usnets = measure(us_ck, us_cfgs, a, seed)
    levels = compare(papers, usnets)
    add_latency(levels, {"papers": pa_ck, "usnets": us_ck}, a)
    res = {"seed": seed, "papers": papers, "usnets": usnets, "levels": levels,
           "time_s": {"papers_pipeline": t_papers, "usnets": t_usnets,
                      "total": t_papers + t_usnets}}
    os.makedirs(base, exist_ok=True)
    with open(cached, "w") as f:
        json.dump(res, f, indent=1)
    return res


def summarise(runs: list[dict]) -> tuple[dict, str]:
    """Mean gap per MACs level over the seeds (levels present in every seed), mean and min."""
    by_level: dict[int, list[float]] = {}
    for r in runs:
        for lv in r["levels"]:
            by_level.setdefault(lv["macs"], []).append(lv["gap_points"])
    common = {m: g for m, g in sorted(by_level.items()) if len(g) == len(runs)}
    pooled = not common  # no level shared by every seed: every (seed, level) gap counts once
    if pooled:
        common = dict(sorted(by_level.items()))
    means = {m: float(np.mean(g)) for m, g in common.items()}
    # the spread: each seed's own mean gap over its levels, and their sd over seeds
    per_seed = [float(np.mean([lv["gap_points"] for lv in r["levels"]]))
                for r in runs if r["levels"]]
    summary = {
        "seeds": [r["seed"] for r in runs],
        "levels": "pooled over seeds (no MACs level shared by every seed)" if pooled else
                  "MACs levels present in every seed",
        "gap_points_per_macs": [{"macs": m, "mean": means[m],
                                 "per_seed": common[m]} for m in means],
        "mean_gap_points": float(np.mean(list(means.values()))) if means else None,
        "min_gap_points": float(min(means.values())) if means else None,
        "mean_gap_points_per_seed": per_seed,
        "mean_gap_points_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None,
        "accuracy_split": "test (reported); selection of every sub-net and of the search on "
                          "validation carved from the training data",
    }
    summary["target_met"] = bool(means) and summary["min_gap_points"] >= 0 and \
        summary["mean_gap_points"] >= 0.3
    rows = []
    for r in runs:
        for lv in r["levels"]:
            rows.append([r["seed"], f"{lv['macs'] / 1e6:.2f}",
                         f"{100 * lv['papers']['accuracy']:.2f}",
                         f"{100 * lv['usnets']['accuracy']:.2f}", f"{lv['gap_points']:+.2f}",
                         f"{1e3 * lv['papers'].get('cpu_latency_s', float('nan')):.2f}",
                         f"{1e3 * lv['usnets'].get('cpu_latency_s', float('nan')):.2f}"])
    md = md_table(["seed", "MMACs", "papers test %", "US-Nets test %", "gap (points)",
                   "papers CPU ms", "US-Nets CPU ms"], rows)
    if means:
        sd = summary["mean_gap_points_sd"]
        md += (f"\n\nMean gap over levels and seeds {summary['mean_gap_points']:+.2f} points"
               + ("" if sd is None else " (each seed's mean gap: "
                  + ", ".join(f"{g:+.2f}" for g in per_seed) + f"; sd over seeds {sd:.2f})")
               + f", worst level {summary['min_gap_points']:+.2f}; target (>= 0 everywhere, "
               f">= +0.3 on average) {'met' if summary['target_met'] else 'not met'}.")
    return summary, md


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    start_run()
    if a.threads:
        torch.set_num_threads(a.threads)
    out = result_path(NAME, path=a.out, quick=a.quick)
    if a.quick and a.out is None:  # a smoke run never lands among the results
        out = SCRATCH / f"{NAME}.json"
    runs = [run_seed(a, s) for s in a.seeds]
    summary, md = summarise(runs)
    data = {"dataset": a.dataset, "epochs": a.epochs, "holdout": a.holdout,
            "group_divisor": a.group_divisor, "max_steps": a.max_steps,
            "papers": [p for r in runs for p in r["papers"]],
            "usnets": [p for r in runs for p in r["usnets"]],
            "levels": [dict(lv, seed=r["seed"]) for r in runs for lv in r["levels"]],
            "time_s": {str(r["seed"]): r["time_s"] for r in runs},
            "summary": summary, "accuracy_split": summary["accuracy_split"]}
    path = write_result(NAME, data, markdown=md, path=out, quick=a.quick)
    print(md)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
