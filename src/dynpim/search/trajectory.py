"""The search trajectory as JSON lines: one header line (what was searched, how), then one line
per committed step. Appending a line is the commit point, so a killed search resumes from the
last complete line (a torn last line is ignored)."""

from __future__ import annotations

import json
import os
from typing import Any

HEADER_TYPE = "dynpim.search_trajectory/1"


def write_header(path: str, header: dict[str, Any]) -> None:
    """Start a new trajectory file (replaces an existing one)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps({"type": HEADER_TYPE, **header}) + "\n")
    os.replace(tmp, path)


def append_step(path: str, record: dict[str, Any]) -> None:
    """Append one step record and flush it to disk."""
    with open(path, "a") as f:
        f.write(json.dumps({"type": "step", **record}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_trajectory(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(header, steps)`` of a trajectory file; a torn (incomplete) last line is dropped."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"trajectory {path!r} does not exist")
    with open(path) as f:
        lines = f.read().split("\n")
    complete, tail = lines[:-1], lines[-1]
    rows = []
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {i + 1} is not valid JSON: {e}") from None
    if tail.strip():  # last line without newline: written partly when the search was killed
        try:
            rows.append(json.loads(tail))
        except json.JSONDecodeError:
            pass
    if not rows or rows[0].get("type") != HEADER_TYPE:
        raise ValueError(f"{path}: first line must be a header with type {HEADER_TYPE!r}")
    steps = [r for r in rows[1:] if r.get("type") == "step"]
    for i, r in enumerate(steps):
        if r.get("step") != i:
            raise ValueError(f"{path}: step records out of order at record {i} "
                             f"(step={r.get('step')!r})")
    return rows[0], steps


def truncate_to(path: str, header: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """Rewrite the file with ``header`` and ``steps`` only (drops a torn last line)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        for r in [header, *[{"type": "step", **{k: v for k, v in s.items() if k != "type"}}
                            for s in steps]]:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)
