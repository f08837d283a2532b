"""Helpers shared by the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """CPU, core count, Python/torch/numpy versions, GPU name if one is used, git commit."""
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
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "git_commit": commit,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_result(name: str, data: dict[str, Any], *, markdown: str = "",
                 path: str | Path | None = None, command: str | None = None,
                 machine: dict[str, Any] | None = None) -> Path:
    """Write ``benchmarks/results/<name>.json`` (or ``path``) with machine info, the command
    line (or ``command``, e.g. the runs a merged result came from) and the Markdown summary
    (what ``run_all.py`` puts in docs/benchmarks.md); return the path. ``machine`` overrides
    this machine's facts (a merged result keeps the machine its runs ran on)."""
    path = Path(path) if path is not None else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    command = command or "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    payload = {"benchmark": name, "command": command, "machine": machine or machine_info(),
               "markdown": markdown, **data}
    path.write_text(json.dumps(payload, indent=1))
    return path


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
