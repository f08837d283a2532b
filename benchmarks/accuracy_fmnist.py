"""Fashion-MNIST accuracy: one dynamic ResNet-20 (sandwich rule, uniform widths 0.25, 0.5, 0.75,
1.0) versus four individually trained ResNet-20 sub-nets at those widths, same epochs.

``--sampling discrete`` (default) trains the four widths only, every one on every batch (with
``--num-random 2``), as Slimmable Networks do; ``--sampling uniform`` trains any ratio in
[0.25, 1] as US-Nets do, which spreads the same epochs over infinitely many widths.

Writes ``benchmarks/results/accuracy_fmnist.json`` (``dynamic`` and ``individual`` maps from
width to test top-1 %, the mean over ``--seeds``; ``dynamic_sd``/``individual_sd`` the standard
deviation over seeds; ``per_seed`` every seed's numbers; the settings, machine and command, and a
Markdown table that ``run_all.py --render`` puts in docs/benchmarks.md). The targets are judged
on the means. Each finished training stores its numbers in ``<runs-dir>/seed<k>/<run>/
result.json`` and is skipped when run again, so a long multi-seed run can span sessions (keep
``--runs-dir`` outside the work tree) and be merged at the end. A ``--quick`` or ``--only`` run
never overwrites the committed result (it goes to ``runs/benchmarks/`` unless ``--out`` names
another file). Accuracies are on the test split; nothing here selects on them (the recipe is
an input, chosen by ``sandwich_ablation.py`` on a validation split).

    python benchmarks/accuracy_fmnist.py --device cpu --parallel    # the real run: 106 min
                                                                    # per seed on 2 cores
    python benchmarks/accuracy_fmnist.py --device cpu --parallel --seeds 0,1,2 \
        --runs-dir /var/tmp/acc_runs                                 # ~5.5 h, resumable
    python benchmarks/accuracy_fmnist.py --device cuda               # on a GPU
    python benchmarks/accuracy_fmnist.py --quick                     # smoke run, CPU, ~1 min

The five trainings are independent. ``--parallel`` runs the dynamic one and the four
individual ones (in turn) as two processes with one thread each, which uses 2 cores better than
one 2-thread process, and merges them; on a CPU the convolutions use the NHWC layout
(``--channels-last``, 1.4-1.7x faster with one thread here). On one GPU they can all run as
parallel processes (``--only dynamic`` / ``--only individual --widths 0.5 --out part.json``) and
be combined with ``--merge part1.json part2.json ...``.

The whole dataset lives in one tensor on the device and batches are sliced from it (no
DataLoader workers); BN is calibrated per width on training batches, never on the test set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from dynpim.data import load_dataset
from dynpim.train import TrainConfig, train

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import (  # noqa: E402
    RECIPE_KEYS,
    add_provenance_args,
    cached_run,
    load_recipes,
    part_stamp,
    result_path,
    seed_list,
    start_run,
    write_result,
)

TARGET_GAP = -0.3   # points: dynamic minus individual, every width, on the means (issue 16)
TARGET_FULL = 93.0  # % test top-1 of the full-width dynamic network, on the mean


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda | cpu (default: cuda when available)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--num-random", type=int, default=2)
    p.add_argument("--subnet-loss", choices=("distill", "labels", "both"), default="labels",
                   help="loss of the sub-nets besides the largest: in-place distillation, hard "
                        "labels (default, as Slimmable Networks) or both; distillation is slow "
                        "in 10 epochs, see sandwich_ablation.py")
    p.add_argument("--sampling", choices=("discrete", "uniform"), default="discrete",
                   help="dynamic run: train exactly --widths (discrete, as Slimmable Networks) "
                        "or any ratio in [min, max] (uniform, as US-Nets)")
    p.add_argument("--widths", default="0.25,0.5,0.75,1.0")
    p.add_argument("--seed", type=int, default=None, help="one seed (same as --seeds N)")
    p.add_argument("--seeds", type=seed_list, default=None,
                   help="comma-separated seeds, e.g. 0,1,2 (default: --seed, else 0); numbers "
                   "are reported as mean ± sd over seeds and the targets judged on the mean")
    p.add_argument("--data-dir", default=None, help="default: /usr/share/datasets/fashion-mnist")
    p.add_argument("--holdout", type=int, default=0,
                   help="training images held out (0: train on all 60,000)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1,024 training / 500 test images, 1 epoch")
    p.add_argument("--only", choices=("dynamic", "individual"), default=None)
    p.add_argument("--out", default=os.path.join(HERE, "results", "accuracy_fmnist.json"))
    p.add_argument("--runs-dir", default=os.path.join(HERE, "results", "fmnist_runs"))
    p.add_argument("--progress", action="store_true", help="tqdm bars per epoch")
    p.add_argument("--replot", action="store_true",
                   help="only redraw the plot of the result at --out (no training)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="combine partial results (e.g. one per parallel process) into --out")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads of this process (default: torch's choice)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format (default: on for --device cpu)")
    p.add_argument("--recipes", metavar="JSON", default=None,
                   help="take each arm's recipe from sandwich_ablation's result (its 'kept' "
                   "variants, chosen on validation): the dynamic sub-net loss and lr, and the "
                   "lr and weight decay of every individual width; overrides --lr, "
                   "--weight-decay and --subnet-loss")
    p.add_argument("--parallel", action="store_true",
                   help="CPU: run the dynamic and the individual trainings as two processes "
                        "with one thread each (better use of 2 cores than one 2-thread "
                        "process), then merge them into --out")
    add_provenance_args(p)
    a = p.parse_args()
    if a.seeds is None:
        a.seeds = [0 if a.seed is None else a.seed]
    return a


def aggregate(per_seed: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """``{seed: {mode: {width: top1}}}`` -> ``{mode: {width: mean}, mode_sd: {width: sd},
    mode_n: {width: seeds}}`` over the seeds that have the number (sd None for one seed)."""
    import statistics

    out: dict[str, dict[str, float]] = {}
    for mode in ("dynamic", "individual"):
        widths = sorted({w for r in per_seed.values() for w in r.get(mode, {})}, key=float)
        vals = {w: [r[mode][w] for r in per_seed.values() if w in r.get(mode, {})]
                for w in widths}
        out[mode] = {w: round(statistics.fmean(v), 3) for w, v in vals.items()}
        out[f"{mode}_sd"] = {w: (round(statistics.stdev(v), 3) if len(v) > 1 else None)
                             for w, v in vals.items()}
        out[f"{mode}_n"] = {w: len(v) for w, v in vals.items()}
    return out


def run_parallel(a: argparse.Namespace) -> None:
    """Re-run this script twice (``--only dynamic`` / ``--only individual``, one thread each)
    and merge the two parts; each child's output goes to a log beside its part."""
    import subprocess

    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg in ("--out", "--threads", "--only"):
            skip = True
        elif arg != "--parallel" and not arg.startswith(("--out=", "--threads=", "--only=")):
            argv.append(arg)
    parts_dir = os.path.splitext(a.out)[0] + "_parts"
    os.makedirs(parts_dir, exist_ok=True)
    t0, procs, parts = time.perf_counter(), [], []
    for mode in ("dynamic", "individual"):
        part = os.path.join(parts_dir, f"{mode}.json")
        log = open(os.path.join(parts_dir, f"{mode}.log"), "w")
        cmd = [sys.executable, os.path.abspath(__file__), *argv, "--only", mode,
               "--threads", "1", "--out", part]
        print(f"started {mode}: log {log.name}", flush=True)
        procs.append((mode, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        parts.append(part)
    failed = []
    for mode, proc, log in procs:
        if proc.wait() != 0:
            failed.append(f"{mode} (exit {proc.returncode}, see {log.name})")
        log.close()
    if failed:
        raise SystemExit(f"training failed: {', '.join(failed)}")
    merge(parts, a.out, extra={"parallel_wall_s": round(time.perf_counter() - t0, 1)},
          command="python benchmarks/accuracy_fmnist.py " + " ".join(sys.argv[1:]))


def merge(paths: list[str], out: str, extra: dict | None = None,
          command: str | None = None) -> None:
    """Combine partial results (e.g. one per parallel process, or a dynamic run on one machine
    with individual runs from another, or each arm with the recipe sandwich_ablation chose for
    it on validation) into one result file. Epochs and batch must agree; learning rate, weight
    decay and device may differ per mode and are shown per mode; seeds are pooled."""
    parts = [json.load(open(p)) for p in paths]
    result = {k: {} for k in ("macs", "time_s", "history")}
    per_seed: dict[str, dict[str, dict[str, float]]] = {}
    for part in parts:
        for k in result:
            result[k].update(part.get(k, {}))
        # parts from before --seeds hold one seed's numbers at the top level
        ps = part.get("per_seed") or {str(part["settings"].get("seed", 0)): {
            m: part.get(m, {}) for m in ("dynamic", "individual")}}
        for seed, modes in ps.items():
            for mode, vals in modes.items():
                per_seed.setdefault(seed, {}).setdefault(mode, {}).update(vals)
    result["per_seed"] = per_seed
    result.update(aggregate(per_seed))
    result["parts"] = [part_stamp(path, p) for path, p in zip(paths, parts)]
    result["dirty"] = any(p.get("dirty") or p.get("machine", {}).get("dirty") for p in parts)
    keep = ("epochs", "batch_size")  # lr and weight decay may differ per mode (tuned per arm)
    settings = [{k: p["settings"].get(k) for k in keep} for p in parts]
    if any(s != settings[0] for s in settings):
        raise SystemExit(f"partial results differ in their settings: {settings}")
    by_mode = {}
    for mode in ("dynamic", "individual"):
        runs = [p for p in parts if p.get(mode)]
        if runs:
            s = runs[-1]["settings"]
            by_mode[mode] = {"lr": s["lr"], "weight_decay": s.get("weight_decay"),
                             "device": s["device"], "device_name": s.get("device_name")}
    dynamic = [p["settings"] for p in parts if p.get("dynamic")]
    result["settings"] = {**(dynamic or [parts[0]["settings"]])[-1], "width": None, "mode": None,
                          "by_mode": by_mode,
                          "merged_from": [p.get("command", "?") for p in parts]}
    result["machines"] = [p.get("machine", {}) for p in parts]
    result.update(extra or {})
    widths = tuple(sorted(float(k) for k in result["macs"]))
    wall = (f" Both ran at the same time; wall time of the whole benchmark "
            f"{result['parallel_wall_s'] / 60:.0f} min." if "parallel_wall_s" in result else "")
    table = markdown(result, widths) + "\n\nRuns: " + "; ".join(
        f"{', '.join(k for k in p.get('time_s', {}))} on {m.get('gpu') or m.get('cpu')} "
        f"({m.get('cpu_cores')} cores, torch {m.get('torch')}, commit {m.get('git_commit')}, "
        f"{m.get('date_utc')}, {_minutes(p)})" for p, m in zip(parts, result["machines"])) + "." \
        + wall
    print(table)
    result["accuracy_split"] = "test"
    quick = bool(result["settings"].get("quick"))
    with_plot(result, str(result_path("accuracy_fmnist", path=out, quick=quick)))
    write_result("accuracy_fmnist", result, markdown=table, path=out,
                 command=command or " ; ".join(result["settings"]["merged_from"]),
                 machine=result["machines"][0], quick=quick,
                 allow_dirty=True if result["dirty"] else None)


def _minutes(part: dict) -> str:
    threads = part.get("machine", {}).get("torch_threads")
    total = sum(part.get("time_s", {}).values()) / 60
    return f"{total:.0f} min" + (f", {threads} thread{'s' * (threads != 1)}" if threads else "")


def main() -> None:
    a = parse()
    if a.replot:
        with open(a.out) as f:
            result = json.load(f)
        with_plot(result, a.out)
        print(f"wrote {os.path.splitext(a.out)[0]}.png")
        return
    if a.merge:
        merge(a.merge, a.out)
        return
    start_run(a.allow_dirty)
    if a.parallel:
        run_parallel(a)
        return
    if a.threads:
        torch.set_num_threads(a.threads)
    channels_last = a.device == "cpu" if a.channels_last is None else a.channels_last
    if a.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda requested but CUDA is not available")
        torch.backends.cudnn.benchmark = True
    widths = tuple(float(w) for w in a.widths.split(","))
    splits = load_dataset("fashion-mnist", data_dir=a.data_dir, holdout=a.holdout)
    epochs = a.epochs
    if a.quick:
        splits = replace(splits, train_x=splits.train_x[:1024], train_y=splits.train_y[:1024],
                         test_x=splits.test_x[:500], test_y=splits.test_y[:500])
        epochs = 1
    calib = 4 if a.quick else 50
    base = TrainConfig(model="resnet20", dataset="fashion-mnist", data_dir=a.data_dir,
                       holdout=a.holdout, epochs=epochs, batch_size=a.batch_size, lr=a.lr,
                       weight_decay=a.weight_decay, warmup_epochs=min(a.warmup_epochs, epochs),
                       num_random=a.num_random, seed=a.seeds[0], eval_widths=widths,
                       sampling=a.sampling, train_widths=widths, min_width=min(widths),
                       subnet_loss=a.subnet_loss,
                       device=a.device, progress=a.progress, calib_batches=calib,
                       channels_last=channels_last)
    result = {"benchmark": "accuracy_fmnist", "dynamic": {}, "individual": {}, "macs": {},
              "time_s": {}, "history": {},
              "per_seed": {},
              "settings": {**base.to_dict(), "seeds": a.seeds, "quick": a.quick,
                           "recipes": load_recipes(a.recipes) if a.recipes else None,
                           "train_images": len(splits.train_y),
                           "test_images": len(splits.test_y), "torch": torch.__version__,
                           "device_name": torch.cuda.get_device_name() if a.device.startswith(
                               "cuda") else platform.processor() or platform.machine()}}
    runs = [] if a.only == "individual" else [("dynamic", None)]
    runs += [] if a.only == "dynamic" else [("individual", w) for w in widths]
    for seed in a.seeds:
        for mode, w in runs:
            done = train_one(a, replace(base, seed=seed), splits, seed, mode, w)
            tag = done["name"] if len(a.seeds) == 1 else f"seed{seed}/{done['name']}"
            result["time_s"][tag] = done["time_s"]
            result["history"][tag] = done["history"]
            result["macs"].update(done["macs"])
            result["per_seed"].setdefault(str(seed), {}).setdefault(mode, {}).update(done["top1"])
    result.update(aggregate(result["per_seed"]))
    result["accuracy_split"] = "test"
    table = markdown(result, widths)
    print(table)
    default_out = a.out == os.path.join(HERE, "results", "accuracy_fmnist.json")
    partial = bool(a.only) and default_out
    with_plot(result, str(result_path("accuracy_fmnist", path=a.out, quick=a.quick,
                                      partial=partial)))
    write_result("accuracy_fmnist", result, markdown=table, path=a.out, quick=a.quick,
                 partial=partial)


def recipe(a: argparse.Namespace, mode: str, w: float | None) -> dict:
    """The settings this run overrides from ``--recipes`` (empty without it)."""
    if not a.recipes:
        return {}
    r = load_recipes(a.recipes)["dynamic" if w is None else f"individual_{w:g}"]
    return {k: r[k] for k in RECIPE_KEYS if mode == "dynamic" or k != "subnet_loss"}


def train_one(a: argparse.Namespace, cfg: TrainConfig, splits, seed: int, mode: str,
              w: float | None) -> dict:
    """One training of one seed; its numbers are stored in ``<runs-dir>/seed<k>/<name>/
    result.json`` and reused when present (resuming a long multi-seed run)."""
    name = "dynamic" if w is None else f"individual_{w:g}"
    out = os.path.join(a.runs_dir, f"seed{seed}", name)
    cache = os.path.join(out, "result.json")
    want = {k: v for k, v in replace(cfg, **recipe(a, mode, w)).to_dict().items()
            if k in RECIPE_KEYS}
    done = cached_run(cache, want)
    if done is not None:
        print(f"{name} (seed {seed}): reused {cache}", flush=True)
        return done
    cfg = replace(cfg, mode=mode, width=w, out=out,
                  sampling=cfg.sampling if mode == "dynamic" else "uniform", **recipe(a, mode, w))
    # a training killed with its session continues from its last epoch's checkpoint
    # (bit-exact, tested in tests/train); time_s then counts this process only
    resumed = os.path.isfile(os.path.join(out, "checkpoint", "meta.json"))
    t0 = time.perf_counter()
    res = train(cfg, splits=splits, resume=resumed)
    dt = time.perf_counter() - t0
    done = {"name": name, "seed": seed, "time_s": round(dt, 1), "history": res.history,
            "resumed": resumed,
            "recipe": {k: v for k, v in cfg.to_dict().items() if k in RECIPE_KEYS},
            "top1": {f"{r['ratio']:g}": r["top1_test"] for r in res.final["test"]},
            "macs": {f"{r['ratio']:g}": r["macs"] for r in res.final["test"]},
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.makedirs(out, exist_ok=True)
    with open(cache, "w") as f:
        json.dump(done, f)
    print(f"{name} (seed {seed}): {dt:.0f} s, top-1 {list(done['top1'].values())}", flush=True)
    return done


SUBNET_LOSS = {"distill": "in-place distillation", "labels": "hard labels",
               "both": "in-place distillation + hard labels"}


def markdown(result: dict, widths: tuple[float, ...]) -> str:
    s = result["settings"]
    sampling = {"discrete": "the four widths only (discrete)",
                "uniform": f"any ratio in [{s.get('min_width')}, {s.get('max_width')}] (uniform)"}
    runs = s.get("by_mode") or {"all runs": s}
    where = "; ".join(f"{m}: lr {r['lr']}"
                      + (f", weight decay {r['weight_decay']:g}" if r.get("weight_decay")
                         not in (None, s.get("weight_decay")) else "")
                      + f", {r['device']} ({r['device_name']})" for m, r in runs.items())
    recipes = s.get("recipes")
    dyn_loss = (recipes or {}).get("dynamic", s).get("subnet_loss", "distill")
    if recipes:  # one recipe per arm and width, chosen on validation by sandwich_ablation
        where = "recipes chosen on validation by sandwich_ablation: " + "; ".join(
            f"{arm_name} lr {r['lr']:g}, weight decay {r['weight_decay']:g}"
            + (f", {SUBNET_LOSS[r['subnet_loss']]}" if arm_name == "dynamic" else "")
            for arm_name, r in recipes.items())
    lines = [f"ResNet-20 on Fashion-MNIST, {s['epochs']} epochs each, batch {s['batch_size']}, "
             f"{where}. The dynamic network trains "
             f"{sampling.get(s.get('sampling', 'uniform'), s.get('sampling'))}, "
             f"{s.get('num_random')} random sub-nets per batch besides largest and smallest, "
             f"sub-net loss: {SUBNET_LOSS[dyn_loss]}.", "",
             f"Test top-1 on the {s.get('test_images', '?')} test images; mean ± standard "
             f"deviation over seeds {s.get('seeds', [s.get('seed')])} (n: seeds per number).",
             "",
             "| width | MMACs | dynamic test top-1 (%) | individual test top-1 (%) | "
             "gap of means (points) |",
             "|---:|---:|---:|---:|---:|"]

    def cell(mode: str, k: str) -> str:
        v = result[mode].get(k)
        if v is None:
            return "-"
        sd = result.get(f"{mode}_sd", {}).get(k)
        n = result.get(f"{mode}_n", {}).get(k, 1)
        return f"{v:.2f}" + (f" ± {sd:.2f}" if sd is not None else "") + f" (n={n})"

    for w in widths:
        k = f"{w:g}"
        d, i = result["dynamic"].get(k), result["individual"].get(k)
        gap = f"{d - i:+.2f}" if d is not None and i is not None else "-"
        macs = result["macs"].get(k)
        lines.append(f"| {k} | {macs / 1e6:.2f} | {cell('dynamic', k)} | "
                     f"{cell('individual', k)} | {gap} |" if macs else f"| {k} | - |")
    lines += ["", verdict(result, widths)]
    return "\n".join(lines)


def plot(result: dict, path: str) -> None:
    """Test top-1 against MMACs per width: every seed's network (small marks) and the mean ±
    standard deviation over seeds (error bars), dynamic and individual side by side."""
    from matplotlib.figure import Figure  # no pyplot, no global backend switch

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    widths = sorted(result["macs"], key=float)
    macs = np.array([result["macs"][w] / 1e6 for w in widths])
    for mode, colour, shift in (("dynamic", "tab:blue", -0.03), ("individual", "tab:orange",
                                                                  0.03)):
        have = [i for i, w in enumerate(widths) if w in result[mode]]
        x = macs[have] * (1 + shift)  # side by side on the log axis
        for seed_vals in result.get("per_seed", {}).values():
            pts = [(x[j], seed_vals[mode][widths[i]]) for j, i in enumerate(have)
                   if widths[i] in seed_vals.get(mode, {})]
            if pts:
                ax.plot(*zip(*pts), ".", color=colour, alpha=0.35, ms=5)
        mean = [result[mode][widths[i]] for i in have]
        sd = [result.get(f"{mode}_sd", {}).get(widths[i]) or 0.0 for i in have]
        n = min((result.get(f"{mode}_n", {}).get(widths[i], 1) for i in have), default=1)
        ax.errorbar(x, mean, yerr=sd, fmt="o-", color=colour, capsize=3, ms=4,
                    label=f"{mode} (mean ± sd, {n} seeds)")
    ax.set_xscale("log")
    ax.set_xticks(macs, [f"{float(w):g}x\n{m:.1f}" for w, m in zip(widths, macs)])
    ax.minorticks_off()
    ax.set_xlabel("width / MMACs per image")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title("ResNet-20 / Fashion-MNIST: dynamic vs individual networks")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def with_plot(result: dict, out: str) -> None:
    """Draw :func:`plot` beside the result ``out`` and list it in ``result["plots"]``."""
    png = os.path.splitext(out)[0] + ".png"
    plot(result, png)
    result["plots"] = [os.path.basename(png)]


def verdict(result: dict, widths: tuple[float, ...]) -> str:
    """The issue's target, checked on the means over seeds: dynamic minus individual >= -0.3
    points at every width, full-width dynamic >= 93.0 %."""
    gaps = [result["dynamic"][k] - result["individual"][k] for k in (f"{w:g}" for w in widths)
            if k in result["dynamic"] and k in result["individual"]]
    full = result["dynamic"].get(f"{max(widths):g}")
    head = (f"Target (on the means: dynamic minus individual >= {TARGET_GAP} points at every "
            f"width, full width >= {TARGET_FULL} %)")
    if not gaps or full is None:
        return f"{head}: n/a"
    met = min(gaps) >= TARGET_GAP and full >= TARGET_FULL
    counts = [*result.get("dynamic_n", {}).values(), *result.get("individual_n", {}).values()]
    seeds = min(counts) if counts else 1
    note = "" if seeds >= 3 else f"; only {seeds} seed(s): issue 16 asks for >= 3"
    return (f"{head}: {'met' if met else 'NOT met'} (gaps {min(gaps):+.2f} to "
            f"{max(gaps):+.2f} points, full width {full:.2f} %{note}).")


if __name__ == "__main__":
    main()
