"""Where the long trainings under a runs folder stand: one line per training (a folder with a
``checkpoint/meta.json``), with its step, its epochs, from the epochs it has timed an estimate
of the compute it still needs, and its last epoch's validation top-1. Reads files only: safe
beside running jobs.

    python benchmarks/run_status.py /var/tmp/dynpim_long_runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path


def run_status(run_dir: Path) -> dict:
    """One training's progress from its checkpoint's ``meta.json`` (step, epochs, epoch times);
    ``done`` once every step ran or a benchmark cached the run's ``result.json``."""
    meta = json.loads((run_dir / "checkpoint" / "meta.json").read_text())
    history = meta.get("history") or []
    epochs = int(meta.get("train_config", {}).get("epochs") or 0)
    per_epoch = history[0]["step"] // history[0]["epoch"] if history else None
    times = [h["time_s"] for h in history if "time_s" in h]
    total = per_epoch * epochs if per_epoch else None
    left_s = None
    if total and times:
        left_s = (total - meta["step"]) / per_epoch * statistics.mean(times)
    last_val = (history[-1].get("val_top1") or {}) if history else {}
    return {"run": str(run_dir), "step": int(meta["step"]), "total_steps": total,
            "last_val_top1": list(last_val.values()),
            "epochs_done": len(history), "epochs": epochs,
            "epoch_s": statistics.mean(times) if times else None, "left_s": left_s,
            "done": (run_dir / "result.json").exists()
            or (total is not None and meta["step"] >= total)}


def find_runs(root: Path) -> list[Path]:
    """Every training folder under ``root`` (sorted)."""
    return sorted(p.parent.parent for p in root.rglob("checkpoint/meta.json"))


def line(s: dict, root: Path) -> str:
    name = os.path.relpath(s["run"], root)
    total = "?" if s["total_steps"] is None else s["total_steps"]
    if s["done"]:
        out = f"{name}: done ({s['epochs']} epochs)"
    else:
        out = f"{name}: step {s['step']}/{total}, epoch {s['epochs_done']}/{s['epochs']} finished"
    if s["left_s"] is not None and not s["done"]:
        out += (f", {s['epoch_s'] / 60:.0f} min per epoch, about {s['left_s'] / 3600:.1f} h "
                "left at that rate")
    if s["last_val_top1"]:
        out += ("; last epoch's validation top-1 (%, per eval config) "
                + " / ".join(f"{v:.1f}" for v in s["last_val_top1"]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="a --runs-dir (or the folder above several)")
    a = ap.parse_args(argv)
    if not a.root.is_dir():
        raise SystemExit(f"{a.root}: no such folder")
    runs = find_runs(a.root)
    if not runs:
        print(f"{a.root}: no trainings (no checkpoint/meta.json below it)")
    for r in runs:
        print(line(run_status(r), a.root))


if __name__ == "__main__":
    main()
