"""Short-budget ablation of the training recipe on Fashion-MNIST (CPU, minutes per run), ranked
on a validation split for both arms.

Why it exists: at 10 epochs the dynamic ResNet-20 trailed the individually trained ones by
~1 point. This proxy (the first 15,000 images of the training split, 4 epochs, batch 256, one
thread per process) shows which part of the recipe costs accuracy early on. Both arms get the
same tuning budget: six recipes each. The dynamic network (four widths trained together) tries
three sub-net losses (hard labels, in-place distillation, both) at two learning rates; every
individual network tries three learning rates at two weight decays.

Splits (issue 16): 5,000 images of the 60,000 training images (split seed 0) form the
validation split; the recipes are ranked on validation top-1 only: the dynamic recipe by its
mean over the widths, each individual width on its own. Test accuracy is neither used nor
reported here (the trainer's final test rows only map its configs to widths).
``--seeds`` repeats every run per seed; recipes are ranked on the mean over seeds.

    python benchmarks/sandwich_ablation.py --variant dynamic_labels_lr0.2 --seeds 0,1  # ~30 min
    python benchmarks/sandwich_ablation.py --all --seeds 0,1        # every variant (~15 h CPU)
    python benchmarks/sandwich_ablation.py --collect                # table from the parts

Each run writes ``<parts-dir>/<variant>_seed<k>.json`` (default
``benchmarks/results/ablation_parts_validation``) with its own machine facts and timestamp, and
is skipped when that file exists (resumable). ``--collect`` merges them into
``benchmarks/results/sandwich_ablation.json``; while runs are missing it is a partial result and
goes to ``runs/benchmarks/`` instead. Run two variants at once on 2 cores. A proxy this short
exaggerates slow starts; it ranks recipes, it does not predict 10 epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace

import torch

from dynpim.data import load_dataset
from dynpim.train import TrainConfig, train

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import (  # noqa: E402
    add_provenance_args,
    machine_info,
    part_stamp,
    start_run,
    write_result,
)

PARTS = os.path.join(HERE, "results", "ablation_parts_validation")
VALIDATION = 5000  # training images held out as the validation split (split seed 0)
BASE = dict(model="resnet20", dataset="fashion-mnist", holdout=VALIDATION, split_seed=0,
            batch_size=256, lr=0.2, warmup_epochs=1.0, epochs=4, calib_batches=20,
            progress=False, mode="dynamic", sampling="discrete")
WIDTHS = ("0.25", "0.5", "0.75", "1")


def _variants() -> dict[str, dict]:
    """Six recipes per arm: dynamic (3 losses x 2 lr), individual per width (3 lr x 2 wd)."""
    out: dict[str, dict] = {}
    for loss in ("labels", "distill", "both"):
        for lr in (0.2, 0.1):
            out[f"dynamic_{loss}_lr{lr:g}"] = dict(subnet_loss=loss, lr=lr)
    for w in WIDTHS:
        for lr in (0.2, 0.1, 0.05):
            for wd in (5e-4, 1e-4):
                out[f"individual_{w}_lr{lr:g}_wd{wd:g}"] = dict(
                    mode="individual", sampling="uniform", width=float(w), lr=lr,
                    weight_decay=wd)
    return out


VARIANTS = _variants()


def arm(name: str) -> str:
    """"dynamic" or "individual_<width>": the arm a variant's recipe competes in."""
    return "dynamic" if name.startswith("dynamic") else "_".join(name.split("_")[:2])


def run_variant(name: str, seed: int, train_images: int, out_dir: str) -> dict:
    """Train one variant with one seed on the subset; its validation top-1 per width."""
    torch.set_num_threads(1)
    splits = load_dataset("fashion-mnist", holdout=VALIDATION, split_seed=0)
    splits = replace(splits, train_x=splits.train_x[:train_images],
                     train_y=splits.train_y[:train_images])
    cfg = TrainConfig(**{**BASE, **VARIANTS[name], "seed": seed,
                         "out": os.path.join(out_dir, f"{name}_seed{seed}")})
    t0 = time.perf_counter()
    res = train(cfg, splits=splits)
    val = res.history[-1]["val_top1"]  # last epoch, BN calibrated per width on training data
    top1 = {f"{r['ratio']:g}": val[r["config"]] for r in res.final["test"]}
    return {"variant": name, "seed": seed, "settings": cfg.to_dict(),
            "train_images": train_images, "validation_images": VALIDATION,
            "accuracy_split": "validation", "top1_validation": top1,
            "time_s": round(time.perf_counter() - t0, 1), "history": res.history,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def summarise(parts: list[dict]) -> dict[str, dict]:
    """Per variant: mean and sd over seeds of the validation top-1 per width, and the seeds."""
    by: dict[str, list[dict]] = {}
    for p in parts:
        by.setdefault(p["variant"], []).append(p)
    out = {}
    for name, ps in by.items():
        per_w = {w: [p["top1_validation"][w] for p in ps if w in p["top1_validation"]]
                 for w in WIDTHS}
        out[name] = {"seeds": sorted(p["seed"] for p in ps),
                     "mean": {w: statistics.fmean(v) for w, v in per_w.items() if v},
                     "sd": {w: (statistics.stdev(v) if len(v) > 1 else None)
                            for w, v in per_w.items() if v}}
    return out


def choose(summary: dict[str, dict]) -> dict[str, str]:
    """The recipe each arm keeps, on validation only: the dynamic variant with the best mean
    (over widths) of its mean validation top-1; for each width the best individual variant."""
    best: dict[str, str] = {}
    for name, s in summary.items():
        a = arm(name)
        score = statistics.fmean(s["mean"].values()) if a == "dynamic" else \
            s["mean"][a.split("_")[1]]
        if a not in best or score > best[a][1]:
            best[a] = (name, score)  # type: ignore[assignment]
    return {a: v[0] for a, v in sorted(best.items())}  # type: ignore[index]


def collect(parts_dir: str, seeds: list[int]) -> None:
    files = sorted(f for f in os.listdir(parts_dir) if f.endswith(".json"))
    parts = [json.load(open(os.path.join(parts_dir, f))) for f in files]
    if not parts:
        raise SystemExit(f"no parts in {parts_dir}")
    missing = [f"{v}_seed{s}" for v in VARIANTS for s in seeds
               if not any(p["variant"] == v and p["seed"] == s for p in parts)]
    summary = summarise(parts)
    kept = choose(summary)

    def cell(s: dict, w: str) -> str:
        if w not in s["mean"]:
            return ""
        sd = s["sd"][w]
        return f"{s['mean'][w]:.2f}" + ("" if sd is None else f" ± {sd:.2f}")

    rows = []
    for name in VARIANTS:
        if name not in summary:
            continue
        st, s = summary[name], VARIANTS[name]
        mark = " **kept**" if kept.get(arm(name)) == name else ""
        rows.append(f"| {name}{mark} | {s.get('subnet_loss', '-')} | {s.get('lr', 0.2)} | "
                    f"{s.get('weight_decay', 5e-4):g} | {len(st['seeds'])} | "
                    + " | ".join(cell(st, w) for w in WIDTHS) + " |")
    first = parts[0]
    table = "\n".join([
        f"ResNet-20, first {first['train_images']:,} images of the Fashion-MNIST training "
        f"split, {BASE['epochs']} epochs, batch {BASE['batch_size']}, 1 CPU thread per run; "
        f"**validation** top-1 (%) on {first['validation_images']:,} held-out training images "
        "(BN calibrated per width on training batches), mean ± sd over seeds; test accuracy "
        "is neither used nor reported. Six recipes per arm; kept: the dynamic recipe with the "
        "best mean over the widths, and for each width the best individual recipe.", "",
        "| variant | sub-net loss | lr | weight decay | seeds | 0.25 | 0.5 | 0.75 | 1.0 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        "Kept: " + ", ".join(f"{a}: `{v}`" for a, v in kept.items())
        + (f". Partial: {len(missing)} of {len(VARIANTS) * len(seeds)} runs missing."
           if missing else ".")])
    print(table)
    write_result("sandwich_ablation", {
        "summary": summary, "kept": kept, "missing": missing, "seeds": seeds,
        "accuracy_split": "validation (ranking, both arms); test not used",
        "parts": [part_stamp(os.path.join(parts_dir, f), p) for f, p in zip(files, parts)],
        "dirty": any(p.get("machine", {}).get("dirty") for p in parts),
        "variants": {f"{p['variant']}_seed{p['seed']}": p for p in parts}},
        markdown=table, partial=bool(missing),
        command=" ; ".join(p["command"] for p in parts if p.get("command"))
        + " ; python benchmarks/sandwich_ablation.py --collect",
        machine=first.get("machine"), allow_dirty=True if any(
            p.get("machine", {}).get("dirty") for p in parts) else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=sorted(VARIANTS), action="append",
                    help="run this variant (repeatable)")
    ap.add_argument("--all", action="store_true", help="run every variant")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--train-images", type=int, default=15000)
    ap.add_argument("--runs-dir", default="/tmp/sandwich_ablation")
    ap.add_argument("--parts-dir", default=PARTS)
    ap.add_argument("--collect", action="store_true", help="merge the parts into one result")
    add_provenance_args(ap)
    a = ap.parse_args()
    seeds = [int(v) for v in a.seeds.split(",") if v.strip()]
    if a.collect:
        collect(a.parts_dir, seeds)
        return
    names = sorted(VARIANTS) if a.all else (a.variant or [])
    if not names:
        ap.error("give --variant NAME, --all or --collect")
    start_run(a.allow_dirty)
    os.makedirs(a.parts_dir, exist_ok=True)
    for name in names:
        for seed in seeds:
            path = os.path.join(a.parts_dir, f"{name}_seed{seed}.json")
            if os.path.exists(path):
                print(f"{name} seed {seed}: done ({path}), skipped")
                continue
            part = run_variant(name, seed, a.train_images, a.runs_dir)
            part["machine"] = machine_info()
            part["command"] = (f"python benchmarks/sandwich_ablation.py --variant {name} "
                               f"--seeds {seed} --train-images {a.train_images}")
            with open(path, "w") as f:
                json.dump(part, f, indent=1)
            print(name, seed, part["top1_validation"], f"{part['time_s']:.0f} s")


if __name__ == "__main__":
    main()
