"""The search trajectory as JSON lines: one header line (what was searched, how), then one line
per committed step. Appending a line is the commit point, so a killed search resumes from the
last complete line (a torn last line is ignored)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

HEADER_TYPE = "dynpim.search_trajectory/1"


@dataclass(frozen=True)
class SearchStep(Mapping[str, Any]):
    """One committed step of the progressive search (step 0: the largest config).

    ``accuracy`` is a fraction on the held-out (validation) split; ``candidates`` holds
    ``[slot index, accuracy]`` of every candidate tried; ``accuracy_search`` is set when the
    accuracy was re-measured on the final weights (the search-time value). ``to_dict`` /
    ``from_dict`` are the trajectory's JSON form (keys absent there stay absent). The record is
    also a read-only mapping of that form (``step["accuracy"]``), so the filters and older
    callers that index records by key keep working."""

    step: int
    config: tuple[int, ...]
    key: str
    accuracy: float
    macs: int
    energy_j: float | None = None
    latency_s: float | None = None
    removed_slot: str | None = None
    removed_channels: int | None = None
    finetuned: bool = False
    accuracy_before_finetune: float | None = None
    finetune_steps: int | None = None
    candidates: tuple[tuple[int, float], ...] = ()
    time_s: float = 0.0
    accuracy_search: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"step": self.step, "config": list(self.config), "key": self.key,
                             "accuracy": self.accuracy, "macs": self.macs,
                             "energy_j": self.energy_j, "latency_s": self.latency_s,
                             "removed_slot": self.removed_slot}
        if self.step > 0:
            d["removed_channels"] = self.removed_channels
        d["finetuned"] = self.finetuned
        if self.step > 0:
            d["accuracy_before_finetune"] = self.accuracy_before_finetune
        if self.finetune_steps is not None:
            d["finetune_steps"] = self.finetune_steps
        d["candidates"] = [list(c) for c in self.candidates]
        d["time_s"] = self.time_s
        if self.accuracy_search is not None:
            d["accuracy_search"] = self.accuracy_search
        return {**d, **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchStep:
        """A step record as written by :meth:`to_dict` (a ``"type"`` key is ignored; keys this
        class does not know are kept in ``extra``)."""
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        known["config"] = tuple(int(w) for w in d["config"])
        known["candidates"] = tuple((int(i), a) for i, a in d.get("candidates") or [])
        extra = {k: v for k, v in d.items() if k not in names and k != "type"}
        return cls(**known, extra=extra)

    def with_accuracy(self, accuracy: float) -> SearchStep:
        """This step re-scored: ``accuracy`` replaced, the search-time one kept."""
        return replace(self, accuracy=accuracy, accuracy_search=self.accuracy)

    # read-only mapping view of to_dict()
    def __getitem__(self, k: str) -> Any:
        return self.to_dict()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def write_header(path: str, header: dict[str, Any]) -> None:
    """Start a new trajectory file (replaces an existing one)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps({"type": HEADER_TYPE, **header}) + "\n")
    os.replace(tmp, path)


def append_step(path: str, record: SearchStep | Mapping[str, Any]) -> None:
    """Append one step record and flush it to disk."""
    d = record.to_dict() if isinstance(record, SearchStep) else dict(record)
    with open(path, "a") as f:
        f.write(json.dumps({"type": "step", **d}) + "\n")
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


def truncate_to(path: str, header: dict[str, Any],
                steps: list[SearchStep] | list[dict[str, Any]]) -> None:
    """Rewrite the file with ``header`` and ``steps`` only (drops a torn last line)."""
    tmp = f"{path}.tmp"
    rows = [s.to_dict() if isinstance(s, SearchStep) else s for s in steps]
    with open(tmp, "w") as f:
        for r in [header, *[{"type": "step", **{k: v for k, v in s.items() if k != "type"}}
                            for s in rows]]:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)
