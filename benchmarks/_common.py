"""Helpers shared by the benchmark scripts: machine facts, provenance and result files.

Provenance rules (issue 16): ``machine_info()`` records the load average, the core count and the
CPU affinity beside the versions and the commit; a benchmark refuses to record from a git work
tree with uncommitted changes to tracked files unless given ``--allow-dirty`` (or
``DYNPIM_ALLOW_DIRTY=1``), and then marks the result ``dirty: true``; a ``--quick`` or partial
run never overwrites a committed result (it is written under ``runs/benchmarks/`` instead);
timing benchmarks take the best of k rounds (:func:`best_of`) and record the load of each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent
SCRATCH = ROOT / "runs" / "benchmarks"  # git-ignored: quick and partial results land here
_STATE: dict[str, Any] = {}  # provenance captured by start_run()


class DirtyTreeError(RuntimeError):
    """The work tree has uncommitted changes and ``--allow-dirty`` was not given."""


def _git(*args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, check=False, cwd=ROOT)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 else None


def dirty_files() -> list[str]:
    """Tracked files with uncommitted changes (staged or not), as ``git status`` names them."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return [ln[3:] for ln in (out or "").splitlines() if ln.strip()]


def is_committed(path: str | Path) -> bool:
    """Whether ``path`` is a file tracked by git (a committed result)."""
    p = Path(path).resolve()
    try:
        rel = p.relative_to(ROOT)
    except ValueError:
        return False
    return bool(_git("ls-files", "--error-unmatch", str(rel)))


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (``os.getloadavg``), None where unavailable."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_affinity() -> list[int] | None:
    """The CPUs this process may run on (``os.sched_getaffinity``), None where unavailable."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def add_provenance_args(p: argparse.ArgumentParser) -> None:
    """``--allow-dirty``: record even from a work tree with uncommitted changes (marked)."""
    p.add_argument("--allow-dirty", action="store_true",
                   help="record even when tracked files have uncommitted changes; the result is "
                   "then marked dirty: true")


def allow_dirty_requested() -> bool:
    """``--allow-dirty`` on the command line or ``DYNPIM_ALLOW_DIRTY=1`` in the environment."""
    return "--allow-dirty" in sys.argv[1:] or os.environ.get("DYNPIM_ALLOW_DIRTY") == "1"


def start_run(allow_dirty: bool | None = None) -> dict[str, Any]:
    """Check the work tree before a benchmark spends its time, and remember what was found
    (the commit and the dirty files) for :func:`write_result`. Raises DirtyTreeError on a dirty
    tree unless ``allow_dirty`` (default: :func:`allow_dirty_requested`)."""
    allow = allow_dirty_requested() if allow_dirty is None else allow_dirty
    files = dirty_files()
    if files and not allow:
        shown = ", ".join(files[:8]) + (f" and {len(files) - 8} more" if len(files) > 8 else "")
        raise DirtyTreeError(f"refusing to record a benchmark from a dirty work tree ({shown}): "
                             f"commit first, or pass --allow-dirty (the result is then marked "
                             f"dirty: true)")
    _STATE.update(dirty=bool(files), dirty_files=files, started_utc=_now())
    return dict(_STATE)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def best_of(measure: Callable[[], float], k: int) -> dict[str, Any]:
    """Run ``measure`` (returns seconds, or any smaller-is-better figure) ``k`` times; the best
    (minimum), every round and the 1-minute load average before each round."""
    if k < 1:
        raise ValueError(f"best-of needs k >= 1, got {k}")
    rounds, loads = [], []
    for _ in range(k):
        la = load_average()
        loads.append(None if la is None else la[0])
        rounds.append(float(measure()))
    return {"best": min(rounds), "rounds": rounds, "k": k, "load_1min": loads}


def result_path(name: str, *, path: str | Path | None = None, quick: bool = False,
                partial: bool = False) -> Path:
    """Where a result is written: ``path`` or ``benchmarks/results/<name>.json``. A ``quick``
    or ``partial`` run never replaces a committed result: the default path is redirected to
    ``runs/benchmarks/<name>.json``, and an explicit committed ``path`` is refused."""
    target = Path(path) if path is not None else RESULTS / f"{name}.json"
    if (quick or partial) and is_committed(target):
        if path is not None:
            raise ValueError(f"refusing to overwrite the committed result {target} with a "
                             f"{'quick' if quick else 'partial'} run; pass another --out")
        return SCRATCH / target.name
    return target


def machine_info() -> dict[str, Any]:
    """CPU, cores, CPU affinity, load average, Python/torch/numpy versions, GPU name if one is
    used, git commit and whether the work tree had uncommitted changes."""
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    files = _STATE["dirty_files"] if "dirty_files" in _STATE else dirty_files()
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "cpu_affinity": cpu_affinity(),
        "load_avg_1_5_15min": load_average(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "git_commit": commit,
        "dirty": bool(files),
        "date_utc": _now(),
    }


def part_stamp(path: str | Path, data: dict[str, Any]) -> dict[str, Any]:
    """Per-part provenance for a merged result: the part's file, when and where it ran."""
    m = data.get("machine", {})
    return {"path": str(path), "date_utc": m.get("date_utc"), "git_commit": m.get("git_commit"),
            "dirty": m.get("dirty"), "load_avg_1_5_15min": m.get("load_avg_1_5_15min"),
            "command": data.get("command")}


def write_result(name: str, data: dict[str, Any], *, markdown: str = "",
                 path: str | Path | None = None, command: str | None = None,
                 machine: dict[str, Any] | None = None, quick: bool = False,
                 partial: bool = False, allow_dirty: bool | None = None) -> Path:
    """Write ``benchmarks/results/<name>.json`` (or ``path``; quick and partial runs go where
    :func:`result_path` says) with machine info, the command line (or ``command``, e.g. the
    runs a merged result came from) and the Markdown summary (what ``run_all.py`` puts in
    docs/benchmarks.md); return the path. ``machine`` overrides this machine's facts (a merged
    result keeps the machine its runs ran on). Refuses (DirtyTreeError) to record from a dirty
    work tree unless ``allow_dirty`` (default: ``--allow-dirty`` given); the result then says
    ``dirty: true``."""
    if "dirty" not in _STATE:
        start_run(allow_dirty)
    elif _STATE["dirty"] and not (allow_dirty_requested() if allow_dirty is None
                                  else allow_dirty):
        raise DirtyTreeError("refusing to record a benchmark from a dirty work tree; pass "
                             "--allow-dirty")
    path = result_path(name, path=path, quick=quick, partial=partial)
    path.parent.mkdir(parents=True, exist_ok=True)
    command = command or "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    payload = {"benchmark": name, "command": command, "machine": machine or machine_info(),
               "markdown": markdown, **data,
               "dirty": bool(_STATE["dirty"] or data.get("dirty"))}
    if quick or partial:
        payload["quick" if quick else "partial_run"] = True
    path.write_text(json.dumps(payload, indent=1))
    return path


def seed_list(s: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]`` (distinct, at least one)."""
    try:
        out = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {s!r}") from None
    if not out or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"expected distinct seeds, got {s!r}")
    return out


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


RECIPE_KEYS = ("lr", "weight_decay", "subnet_loss")


def load_recipes(path: str) -> dict[str, dict]:
    """``{"dynamic": {...}, "individual_<w>": {...}}``: the training settings (lr, weight
    decay, sub-net loss) of each arm's kept variant in a sandwich_ablation result."""
    with open(path) as f:
        res = json.load(f)
    if res.get("missing"):
        raise SystemExit(f"{path} is a partial ablation ({len(res['missing'])} runs missing): "
                         "finish it before taking recipes from it")
    variants = res["variants"]
    out = {}
    for arm_name, variant in res["kept"].items():
        part = next(p for p in variants.values() if p["variant"] == variant)
        out[arm_name] = {k: part["settings"][k] for k in RECIPE_KEYS} | {"variant": variant}
    return out


def cached_run(path: str, recipe: dict[str, Any]) -> dict[str, Any] | None:
    """The record a finished training left at ``path`` (None when there is none), refusing one
    trained with another recipe: a long multi-session run must not mix recipes."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        done = json.load(f)
    if done.get("recipe", recipe) != recipe:
        raise SystemExit(f"{path} was trained with {done['recipe']}, this run asks for "
                         f"{recipe}: use another --runs-dir")
    return done


def run_commits(run_dir: str) -> list[str]:
    """The commits of every session that trained the run in ``run_dir`` (``env.json``'s
    ``sessions``, first to last, repeats dropped): a run resumed across sessions names all."""
    with open(os.path.join(run_dir, "env.json")) as f:
        env = json.load(f)
    commits = [s.get("commit") for s in env.get("sessions") or [env]]
    return list(dict.fromkeys(c for c in commits if c))


def compute_seconds(run_dir: str) -> float:
    """Seconds one training (its epochs' ``time_s`` in ``metrics.jsonl``) or one search (its
    steps' ``time_s`` in ``trajectory.jsonl``) computed, summed over every session it ran in:
    a run resumed after its session ended is timed whole, not from its last resume. A run
    stopped by ``--max-steps`` (``--quick``) before its first epoch ended has no record: 0 s."""
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir}: no such run")
    for fname, counts in (("metrics.jsonl", lambda r: not r.get("final")),
                          ("trajectory.jsonl", lambda r: r.get("type") == "step")):
        path = os.path.join(run_dir, fname)
        if os.path.exists(path):
            with open(path) as f:
                recs = [json.loads(line) for line in f if line.strip()]
            return float(sum(r.get("time_s", 0.0) for r in recs if counts(r)))
    return 0.0
