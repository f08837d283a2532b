"""What every artefact records about where it came from: package versions, the git commit of
the dynpim source when it is a checkout, the machine, the command; and the safetensors header
metadata (string to string, readable with the ``safetensors`` library alone)."""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
from typing import Any


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the dynpim source tree (``+dirty`` when it has changes), or None when
    dynpim is not run from a git checkout."""
    src = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{out}+dirty" if out and dirty else (out or None)


def versions() -> dict[str, str]:
    """dynpim, torch, numpy, safetensors and python versions."""
    import numpy
    import safetensors
    import torch

    from dynpim import __version__

    return {"dynpim": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


def environment(seed: int | None = None) -> dict[str, Any]:
    """Versions, commit, machine and command of this process (``env.json`` of a run)."""
    import torch

    env: dict[str, Any] = {
        "versions": versions(), "commit": git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "hostname": platform.node(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "cuda": torch.version.cuda,
                    "gpus": [torch.cuda.get_device_name(i)
                             for i in range(torch.cuda.device_count())]
                    if torch.cuda.is_available() else []},
        "command": list(sys.argv),
    }
    if seed is not None:
        env["seed"] = seed
    return env


def write_env(path: str, env: dict[str, Any], *, start_step: int, resumed: bool) -> dict[str, Any]:
    """Write a run's ``env.json``: this process's environment (:func:`environment`) at the top
    and, under ``sessions``, one entry per session that trained the run (commit, command, host,
    start step, UTC start time), so a run resumed across sessions says which code trained which
    steps. A fresh run starts the list anew; a resumed run appends to it (an ``env.json`` written
    before sessions were kept counts as one earlier session, start step unknown)."""
    import datetime

    sessions: list[dict[str, Any]] = []
    if resumed and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        sessions = list(old.get("sessions") or [
            {"commit": old.get("commit"), "command": old.get("command"),
             "host": old.get("machine", {}).get("hostname"), "start_step": None,
             "started_utc": None}])
    sessions.append({"commit": env.get("commit"), "command": env.get("command"),
                     "host": env.get("machine", {}).get("hostname"), "start_step": start_step,
                     "started_utc": datetime.datetime.now(datetime.timezone.utc)
                     .isoformat(timespec="seconds")})
    out = {**env, "sessions": sessions}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, path)
    return out


def safetensors_metadata(meta: dict[str, Any]) -> dict[str, str]:
    """Header metadata for a tensor file of the artefact described by ``meta`` (a checkpoint's
    ``meta.json`` contents): model name and arguments, sub-net configs, input preprocessing,
    versions and commit, each a string (JSON for structured values)."""
    model = meta.get("model", {})
    out = {"format": str(meta.get("format", "dynpim")),
           "model_name": str(model.get("name", "")),
           "model_args": json.dumps(model.get("args", {}), sort_keys=True),
           "input_size": json.dumps(model.get("input_size", [])),
           "configs": json.dumps(meta.get("configs", [])),
           "preprocessing": json.dumps(meta.get("preprocessing")),
           "dynpim_version": versions()["dynpim"], "torch_version": versions()["torch"]}
    if "config" in meta:
        out["config"] = json.dumps(meta["config"])
    commit = git_commit()
    if commit:
        out["commit"] = commit
    return out


def preprocessing(mean: Any, std: Any, dataset: str | None = None) -> dict[str, Any]:
    """How raw images become model input: ``(x - mean[c]) / std[c]`` per channel, raw ``x``
    float in [0, 1], layout NCHW."""
    return {"input_range": [0.0, 1.0], "layout": "NCHW",
            "mean": [float(v) for v in mean], "std": [float(v) for v in std],
            "formula": "(x - mean[c]) / std[c]", "dataset": dataset}
