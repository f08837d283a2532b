"""Fashion-MNIST ResNet-20: uniform (US-Nets-style) versus non-uniform (searched) dynamic networks,
same training budget, compared as accuracy versus modelled SOT-MRAM PIM energy and latency.

1. ``uniform``: one dynamic ResNet-20, sandwich rule with uniform widths in [0.25, 1], E epochs;
   evaluated at the uniform widths 2/8 ... 8/8 (every width the slot steps allow).
2. The progressive search runs on that trained dynamic network (no reordering: its prefixes are
   already trained to hold the important channels; held-out training images, BN recalibrated
   per candidate): once with the papers' rule (``accuracy``),
   once hardware-aware (``accuracy-per-cost``, cost = PIM energy); K configs each.
3. ``nonuniform`` (hardware-aware search) and ``nonuniform_accuracy_rule``: a fresh dynamic
   ResNet-20 trained from scratch on the chosen configs (sandwich: largest, smallest, random
   picks), the same E epochs; evaluated at its configs.
4. ``uniform_discrete`` (the control): a fresh dynamic ResNet-20 trained the same way on the
   uniform configs 2/8 ... 8/8 only, so that a gain of the searched networks can be told apart
   from the gain of training on a few configs instead of every width.

Every point is ``{config, accuracy, energy_j, latency_s, macs}`` (test top-1 as a fraction; PIM
cost per inference, batch 1, preset sot-mram; energy with all sub-arrays active, latency with
``--latency-subarrays`` active, default 8, where latency depends on the width). The curves are
compared as the best accuracy reachable within a cost (upper step envelope); ``area_points`` is
the integral of non-uniform minus uniform over the common cost range divided by its width (mean
gap, points).
Writes ``benchmarks/results/search_fmnist.json`` and two PNG plots.

    python benchmarks/search_fmnist.py --device cuda --epochs 15   # the real run (~5 min H100)
    python benchmarks/search_fmnist.py --quick                     # CPU smoke run (~2 min)

On a GPU the independent jobs (the two searches, the two re-trainings) run as parallel
processes; the whole dataset lives on the device.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import md_table, write_result  # noqa: E402

from dynpim import pim  # noqa: E402
from dynpim.data import load_dataset  # noqa: E402
from dynpim.nn import SubnetConfig, load_configs, save_configs  # noqa: E402
from dynpim.train import (  # noqa: E402
    TrainConfig,
    calibration_batches,
    evaluate_configs,
    load_checkpoint,
    train,
)

SEARCHES = {"nonuniform": "accuracy-per-cost", "nonuniform_accuracy_rule": "accuracy"}


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--holdout", type=int, default=2500, help="held-out training images")
    p.add_argument("--k", type=int, default=8, help="configs kept from each search")
    p.add_argument("--group-divisor", type=int, default=8)
    p.add_argument("--latency-subarrays", type=int, default=8,
                   help="active sub-arrays for the latency curve (default 8: with many active "
                   "sub-arrays the modelled ResNet-20 latency hardly depends on the width)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--quick", action="store_true", help="CPU smoke run: tiny data, few steps")
    p.add_argument("--parallel", choices=("auto", "yes", "no"), default="auto",
                   help="run independent jobs as parallel processes (auto: on a GPU)")
    p.add_argument("--runs-dir", default=os.path.join(HERE, "results", "search_fmnist_runs"))
    p.add_argument("--out", default=None, help="result name under results/ (default "
                   "search_fmnist, or search_fmnist_quick with --quick)")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # internal: one job
    return p.parse_args(argv)


# -- data and jobs --------------------------------------------------------------------------------
def splits_for(a: argparse.Namespace):
    s = load_dataset("fashion-mnist", data_dir=a.data_dir, holdout=a.holdout, split_seed=0)
    if a.quick:
        s = replace(s, train_x=s.train_x[:1024], train_y=s.train_y[:1024],
                    test_x=s.test_x[:200], test_y=s.test_y[:200])
    return s


def train_cfg(a: argparse.Namespace, out: str, configs: str | None = None) -> TrainConfig:
    return TrainConfig(
        model="resnet20", dataset="fashion-mnist", data_dir=a.data_dir, holdout=a.holdout,
        sampling="nonuniform" if configs else "uniform", configs=configs,
        epochs=1 if a.quick else a.epochs, batch_size=64 if a.quick else a.batch_size,
        lr=a.lr, warmup_epochs=0.0 if a.quick else 1.0, num_random=2, seed=a.seed,
        calib_batches=1 if a.quick else 10, max_steps=2 if a.quick else None,
        eval_widths=(0.25, 0.5, 0.75, 1.0), device=a.device, progress=False, out=out)


def job_train(a: argparse.Namespace, name: str, configs: str | None) -> None:
    out = os.path.join(a.runs_dir, name)
    train(train_cfg(a, out, configs), splits=splits_for(a))


def job_search(a: argparse.Namespace, name: str, objective: str) -> None:
    from dynpim.cli import main as cli

    ck = os.path.join(a.runs_dir, "uniform", "checkpoint")
    args = ["search", "--checkpoint", ck, "--out", os.path.join(a.runs_dir, f"search_{name}"),
            "--objective", objective, "--cost", "energy", "--ranking", "none",
            "--group-divisor", str(a.group_divisor), "--k", str(a.k), "--device", a.device,
            "--holdout", str(100 if a.quick else a.holdout), "--quiet"]
    if a.quick:
        args += ["--calib-batches", "1", "--calib-batch-size", "32", "--group-divisor", "2",
                 "--max-steps", "1"]
    if cli(args) != 0:
        raise SystemExit(f"search {name} failed")


def run_jobs(a: argparse.Namespace, jobs: list[list[str]]) -> None:
    """Run worker jobs: in parallel processes on a GPU, one after the other on a CPU."""
    base = [sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
    if a.parallel == "yes" or (a.parallel == "auto" and a.device.startswith("cuda")):
        procs = [subprocess.Popen([*base, "--worker", *j]) for j in jobs]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"jobs {jobs} failed with exit codes {codes}")
    else:
        for j in jobs:
            worker(a, j)


def worker(a: argparse.Namespace, job: list[str]) -> None:
    kind, name = job[0], job[1]
    if kind == "train":
        job_train(a, name, job[2] if len(job) > 2 else None)
    elif kind == "search":
        job_search(a, name, SEARCHES[name])
    else:
        raise SystemExit(f"unknown job {job}")


# -- evaluation and comparison --------------------------------------------------------------------
def points(a: argparse.Namespace, run: str, cfgs: list[SubnetConfig], splits, hw) -> list[dict]:
    ck = load_checkpoint(os.path.join(a.runs_dir, run, "checkpoint"), map_location=a.device)
    model = ck.model.to(a.device)
    dev = splits.to(a.device)
    calib = calibration_batches(dev, batch_size=64 if a.quick else 256,
                                num_batches=1 if a.quick else 20)
    rows = evaluate_configs(model, cfgs, dev, calib, split="test", batch_size=1000)
    cfgs = [SubnetConfig(r["widths"]) for r in rows]
    est = pim.estimate_many(model, cfgs, hw, input_size=model.input_size)
    lat = pim.estimate_many(model, cfgs, hw, input_size=model.input_size,
                            active_subarrays=a.latency_subarrays)["latency_s"]
    return [{"config": r["widths"], "accuracy": r["top1_test"] / 100.0,
             "energy_j": float(est["energy_j"][i]), "latency_s": float(lat[i]),
             "macs": int(r["macs"])} for i, r in enumerate(rows)]


def envelope(pts: list[dict], key: str, grid: np.ndarray) -> np.ndarray:
    """Best accuracy among the points whose ``key`` cost is <= each grid value."""
    c = np.array([p[key] for p in pts])
    acc = np.array([p["accuracy"] for p in pts])
    return np.array([acc[c <= g].max() if (c <= g).any() else np.nan for g in grid])


def compare(uni: list[dict], non: list[dict], key: str) -> dict:
    lo = max(min(p[key] for p in uni), min(p[key] for p in non))
    hi = min(max(p[key] for p in uni), max(p[key] for p in non))
    if not hi > lo:
        return {"range": [lo, hi], "area_points": None}
    grid = np.linspace(lo, hi, 2001)
    gap = 100.0 * (envelope(non, key, grid) - envelope(uni, key, grid))
    q = grid <= lo + (hi - lo) / 4
    return {"range": [float(lo), float(hi)], "area_points": float(np.mean(gap)),
            "min_gap_points": float(np.min(gap)), "max_gap_points": float(np.max(gap)),
            "cheapest_quarter_mean_gap_points": float(np.mean(gap[q])),
            "nonuniform_ge_uniform_everywhere": bool(np.all(gap >= 0))}


def target_met(energy_stats: dict) -> bool:
    """The issue's target: non-uniform >= uniform at equal PIM energy everywhere on the common
    range, and >= +1 point (mean) in its cheapest quarter."""
    return bool(energy_stats.get("nonuniform_ge_uniform_everywhere")
                and (energy_stats.get("cheapest_quarter_mean_gap_points") or 0.0) >= 1.0)


def plot(curves: dict[str, list[dict]], key: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, unit = (1e6, "µJ") if key == "energy_j" else (1e3, "ms")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in curves.items():
        pts = sorted(pts, key=lambda p: p[key])
        ax.plot([p[key] * scale for p in pts], [100 * p["accuracy"] for p in pts], "o-",
                label=name, ms=4)
    ax.set_xlabel(f"PIM {'energy' if key == 'energy_j' else 'latency'} per inference ({unit})")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title("ResNet-20 / Fashion-MNIST, SOT-MRAM PIM model")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    a = parse(argv)
    a.out = a.out or ("search_fmnist_quick" if a.quick else "search_fmnist")
    if a.quick:
        a.k = min(a.k, 4)
    if a.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda requested but CUDA is not available")
        torch.backends.cudnn.benchmark = True
    if a.worker:
        worker(a, a.worker)
        return 0
    os.makedirs(a.runs_dir, exist_ok=True)
    t0, times = time.perf_counter(), {}
    run_jobs(a, [["train", "uniform"]])
    times["train_uniform_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    searches = list(SEARCHES)[:1] if a.quick else list(SEARCHES)  # quick: hardware-aware only
    run_jobs(a, [["search", n] for n in searches])
    times["searches_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    probe = load_checkpoint(os.path.join(a.runs_dir, "uniform", "checkpoint")).model
    uniform_cfgs = list(dict.fromkeys(SubnetConfig.uniform(probe, k / 8) for k in range(2, 9)))
    discrete = os.path.join(a.runs_dir, "uniform_configs.json")
    save_configs(discrete, uniform_cfgs)
    run_jobs(a, [["train", n, os.path.join(a.runs_dir, f"search_{n}", "chosen.json")]
                 for n in searches] + [["train", "uniform_discrete", discrete]])
    times["train_nonuniform_s"] = time.perf_counter() - t1
    hw = pim.load_preset("sot-mram")
    splits = splits_for(a)

    curves = {"uniform": points(a, "uniform", uniform_cfgs, splits, hw),
              "uniform_discrete": points(a, "uniform_discrete", uniform_cfgs, splits, hw)}
    for n in searches:
        chosen = load_configs(os.path.join(a.runs_dir, f"search_{n}", "chosen.json"))
        curves[n] = points(a, n, chosen, splits, hw)
    stats = {f"{n}_vs_{u}": {k: compare(curves[u], curves[n], k)
                             for k in ("energy_j", "latency_s")}
             for n in searches for u in ("uniform", "uniform_discrete")}
    for key, tag in (("energy_j", "energy"), ("latency_s", "latency")):
        plot(curves, key, os.path.join(HERE, "results", f"{a.out}_{tag}.png"))
    times["total_s"] = time.perf_counter() - t0
    with open(os.path.join(a.runs_dir, "search_nonuniform", "trajectory.jsonl")) as f:
        steps = sum(1 for line in f if '"type": "step"' in line) - 1
    s = stats["nonuniform_vs_uniform"]
    sd = stats["nonuniform_vs_uniform_discrete"]["energy_j"]
    rows = [[n, len(curves[n]), f"{100 * max(p['accuracy'] for p in curves[n]):.2f}",
             f"{100 * min(curves[n], key=lambda p: p['energy_j'])['accuracy']:.2f}"]
            for n in curves]
    md = (md_table(["network", "configs", "best top-1 %", "cheapest top-1 %"], rows) +
          f"\n\nMean gap non-uniform (hardware-aware) minus uniform over the common range: "
          f"energy {s['energy_j'].get('area_points')} points, latency "
          f"{s['latency_s'].get('area_points')} points; cheapest quarter (energy): "
          f"{s['energy_j'].get('cheapest_quarter_mean_gap_points')} points. "
          f"Target (non-uniform >= uniform at equal energy everywhere, >= +1 point in the "
          f"cheapest quarter): {'met' if target_met(s['energy_j']) else 'NOT met'}. "
          f"Against the control trained on the uniform configs only: mean gap "
          f"{sd.get('area_points')} points, cheapest quarter "
          f"{sd.get('cheapest_quarter_mean_gap_points')} points. "
          f"Search steps: {steps}; wall times: "
          + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    data = {**curves, "stats": stats, "time_s": times, "device": a.device,
            "plots": [f"{a.out}_energy.png", f"{a.out}_latency.png"],
            "settings": {"epochs": 1 if a.quick else a.epochs, "quick": a.quick,
                         "batch_size": a.batch_size, "lr": a.lr, "holdout": a.holdout,
                         "k": a.k, "group_divisor": a.group_divisor, "seed": a.seed,
                         "preset": "sot-mram", "energy_active_subarrays": "all",
                         "latency_active_subarrays": a.latency_subarrays,
                         "train_images": len(splits.train_y), "test_images": len(splits.test_y)}}
    path = write_result(a.out, data, markdown=md)
    print(md)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
