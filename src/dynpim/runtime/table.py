"""Operating points and the operating table the run-time controller chooses from.

An *operating point* is one deployable way of running the network: a sub-net config plus the
number of active PIM sub-arrays, with its measured accuracy and modelled per-inference latency,
energy and power. The *operating table* is a list of such points, stored as JSON
(schema ``dynpim.operating_table/1``, documented in docs/runtime.md).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynpim.errors import PIM_MAX_BITS, is_bits, is_integer, is_real
from dynpim.nn import SubnetConfig
from dynpim.nn.precision import bank_key
from dynpim.pareto import pareto_mask

SCHEMA = "dynpim.operating_table/1"

_REQUIRED = ("config", "active_subarrays", "accuracy", "latency_s", "energy_j", "avg_power_w")


def _number(where: str, name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float >= 0 (> 0 with ``positive``); ValueError names the field."""
    if not is_real(value):
        raise ValueError(f"{where}: field {name!r} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{where}: field {name!r} must be finite and {bound}, got {value!r}")
    return v


@dataclass(frozen=True)
class OperatingPoint:
    """One (sub-net config, active sub-arrays) pair with its accuracy and per-inference costs.

    ``accuracy`` is a fraction in [0, 1] on the split the table *selects* on (validation; the
    table's ``accuracy_split``); ``test_accuracy``, when known, is the same point's accuracy on
    the test split, carried only for reporting (the controller and the Pareto filter never read
    it). ``latency_s``, ``energy_j`` and ``avg_power_w`` are for one inference (batch 1) and
    ``avg_power_w`` is the power drawn while that inference runs.
    """

    config: SubnetConfig
    active_subarrays: int
    accuracy: float
    latency_s: float
    energy_j: float
    avg_power_w: float
    peak_power_w: float | None = None
    macs: int | None = None
    label: str = ""
    test_accuracy: float | None = None
    bits: tuple[int, int] | None = None  # (wbits, abits) run-time precision; None: stored
    where: str = field(default="operating point", compare=False, repr=False)

    def __post_init__(self) -> None:
        w = self.where
        if not isinstance(self.config, SubnetConfig):
            raise ValueError(f"{w}: field 'config' must be a SubnetConfig, got {self.config!r}")
        if not self.config.widths:
            raise ValueError(f"{w}: field 'config' has no widths")
        a = self.active_subarrays
        if not is_integer(a) or a < 1:
            raise ValueError(f"{w}: field 'active_subarrays' must be an int >= 1, got {a!r}")
        object.__setattr__(self, "active_subarrays", int(a))
        acc = _number(w, "accuracy", self.accuracy)
        if acc > 1.0:
            raise ValueError(f"{w}: field 'accuracy' is a fraction in [0, 1], got {acc!r}")
        object.__setattr__(self, "accuracy", acc)
        if self.test_accuracy is not None:
            t = _number(w, "test_accuracy", self.test_accuracy)
            if t > 1.0:
                raise ValueError(f"{w}: field 'test_accuracy' is a fraction in [0, 1], got {t!r}")
            object.__setattr__(self, "test_accuracy", t)
        object.__setattr__(self, "latency_s", _number(w, "latency_s", self.latency_s,
                                                      positive=True))
        object.__setattr__(self, "energy_j", _number(w, "energy_j", self.energy_j))
        object.__setattr__(self, "avg_power_w", _number(w, "avg_power_w", self.avg_power_w))
        if self.peak_power_w is not None:
            peak = _number(w, "peak_power_w", self.peak_power_w)
            if peak < self.avg_power_w:
                raise ValueError(f"{w}: field 'peak_power_w' ({peak}) is below avg_power_w "
                                 f"({self.avg_power_w})")
            object.__setattr__(self, "peak_power_w", peak)
        if self.macs is not None and (not is_integer(self.macs) or self.macs < 0):
            raise ValueError(f"{w}: field 'macs' must be an int >= 0, got {self.macs!r}")
        if self.macs is not None:
            object.__setattr__(self, "macs", int(self.macs))
        if self.bits is not None:
            b = tuple(self.bits)
            if len(b) != 2 or not all(is_bits(v) for v in b):
                raise ValueError(f"{w}: field 'bits' must be [wbits, abits] in "
                                 f"1..{PIM_MAX_BITS}, got {self.bits!r}")
            object.__setattr__(self, "bits", (int(b[0]), int(b[1])))
        if not self.label:
            object.__setattr__(self, "label", self.key)

    @property
    def key(self) -> str:
        """Unique identity in a table: ``"<config key>[-w<W>a<A>]@<active sub-arrays>"``."""
        return f"{bank_key(self.config.key, self.bits)}@{self.active_subarrays}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "config": self.config.to_dict(),
            "active_subarrays": self.active_subarrays,
            "accuracy": self.accuracy,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "avg_power_w": self.avg_power_w,
        }
        if self.peak_power_w is not None:
            d["peak_power_w"] = self.peak_power_w
        if self.macs is not None:
            d["macs"] = self.macs
        if self.label and self.label != self.key:
            d["label"] = self.label
        if self.test_accuracy is not None:
            d["test_accuracy"] = self.test_accuracy
        if self.bits is not None:
            d["bits"] = list(self.bits)
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "operating point") -> OperatingPoint:
        if not isinstance(d, dict):
            raise ValueError(f"{where}: must be a JSON object, got {type(d).__name__}")
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
        try:
            cfg = SubnetConfig.from_dict(d["config"])
        except ValueError as e:
            raise ValueError(f"{where}: field 'config': {e}") from None
        return cls(cfg, d["active_subarrays"], d["accuracy"], d["latency_s"], d["energy_j"],
                   d["avg_power_w"], d.get("peak_power_w"), d.get("macs"),
                   str(d.get("label", "")), d.get("test_accuracy"),
                   None if d.get("bits") is None else tuple(d["bits"]), where=where)


class OperatingTable:
    """An immutable, validated list of operating points plus metadata (model, preset, ...)."""

    def __init__(self, points: Iterable[OperatingPoint], meta: dict[str, Any] | None = None):
        pts = tuple(points)
        if not pts:
            raise ValueError("operating table: 'points' is empty; need at least one point")
        n = len(pts[0].config)
        seen: dict[str, int] = {}
        for i, p in enumerate(pts):
            if not isinstance(p, OperatingPoint):
                raise ValueError(f"operating table: points[{i}] is not an OperatingPoint")
            if len(p.config) != n:
                raise ValueError(f"operating table: points[{i}] config has {len(p.config)} widths,"
                                 f" points[0] has {n}; all points must be for the same model")
            if p.key in seen:
                raise ValueError(f"operating table: points[{i}] duplicates points[{seen[p.key]}] "
                                 f"(config {p.config.key}, active_subarrays "
                                 f"{p.active_subarrays})")
            seen[p.key] = i
        self.points: tuple[OperatingPoint, ...] = pts
        self.meta: dict[str, Any] = dict(meta or {})

    # -- construction and I/O ---------------------------------------------------------------
    @classmethod
    def from_points(cls, points: Iterable[OperatingPoint],
                    meta: dict[str, Any] | None = None) -> OperatingTable:
        """``OperatingTable(points, meta)``, under the name docs/runtime.md uses."""
        return cls(points, meta)

    @classmethod
    def from_dict(cls, data: Any, source: str = "operating table") -> OperatingTable:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: top level must be a JSON object")
        schema = data.get("schema")
        if schema != SCHEMA:
            raise ValueError(f"{source}: field 'schema' must be {SCHEMA!r}, got {schema!r}")
        if "points" not in data:
            raise ValueError(f"{source}: missing field 'points'")
        pts = data["points"]
        if not isinstance(pts, list):
            raise ValueError(f"{source}: field 'points' must be a list")
        if not pts:
            raise ValueError(f"{source}: field 'points' is empty; need at least one point")
        points = [OperatingPoint.from_dict(d, f"{source}: points[{i}]") for i, d in enumerate(pts)]
        meta = {k: v for k, v in data.items() if k not in ("schema", "points")}
        try:
            return cls(points, meta)
        except ValueError as e:
            raise ValueError(f"{source}: {str(e).removeprefix('operating table: ')}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OperatingTable:
        """Read and validate a table JSON file."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"operating table {path!r} does not exist")
        with open(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(data, path)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **self.meta, "points": [p.to_dict() for p in self.points]}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the table as JSON (atomically: temp file + rename)."""
        path = os.fspath(path)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)

    # -- queries ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[OperatingPoint]:
        return iter(self.points)

    def __getitem__(self, i: int) -> OperatingPoint:
        return self.points[i]

    def index(self, point: OperatingPoint) -> int:
        return self.points.index(point)

    def configs(self) -> list[SubnetConfig]:
        """Distinct sub-net configs, in first-seen order."""
        return list(dict.fromkeys(p.config for p in self.points))

    def subset(self, points: Sequence[OperatingPoint]) -> OperatingTable:
        """A table holding only ``points`` (same metadata)."""
        return OperatingTable(points, self.meta)

    def pareto(self) -> OperatingTable:
        """Points no other point dominates (accuracy max; latency, power, energy min)."""
        pts = self.points
        keep = pareto_mask(maximize=[[p.accuracy for p in pts]],
                           minimize=[[p.latency_s for p in pts], [p.avg_power_w for p in pts],
                                     [p.energy_j for p in pts]])
        return self.subset([p for p, k in zip(pts, keep) if k])

    @property
    def accuracy_split(self) -> str:
        """The split ``accuracy`` is on (metadata ``accuracy_split``; "unknown" if absent)."""
        return str(self.meta.get("accuracy_split", "unknown"))

    def test_accuracies(self) -> list[float] | None:
        """Every point's ``test_accuracy`` (reporting only), or None when any is missing."""
        vals = [p.test_accuracy for p in self.points]
        return None if any(v is None for v in vals) else [float(v) for v in vals]  # type: ignore[arg-type]

    def most_accurate(self) -> OperatingPoint:
        return min(self.points, key=lambda p: (-p.accuracy, p.energy_j, p.avg_power_w))

    def cheapest(self) -> OperatingPoint:
        """Lowest power, then lowest energy, then highest accuracy."""
        return min(self.points, key=lambda p: (p.avg_power_w, p.energy_j, -p.accuracy))

    def summary(self) -> dict[str, Any]:
        """Counts and ranges of every quantity (for ``dynpim runtime show`` and reports)."""
        def rng(attr: str) -> list[float]:
            vals = [getattr(p, attr) for p in self.points]
            return [min(vals), max(vals)]

        return {
            "points": len(self.points),
            "pareto_points": len(self.pareto()),
            "configs": len(self.configs()),
            "active_subarrays": sorted({p.active_subarrays for p in self.points}),
            "accuracy": rng("accuracy"),
            "latency_s": rng("latency_s"),
            "energy_j": rng("energy_j"),
            "avg_power_w": rng("avg_power_w"),
            **{k: self.meta[k] for k in ("model", "preset", "input_size") if k in self.meta},
        }

    def describe(self) -> str:
        """Human-readable summary plus one line per point (Pareto points marked ``*``)."""
        s = self.summary()
        front = {p.key for p in self.pareto()}
        lines = [f"operating table: {s['points']} points ({s['pareto_points']} Pareto-optimal), "
                 f"{s['configs']} configs, active sub-arrays {s['active_subarrays']}"]
        for k in ("model", "preset", "input_size"):
            if k in s:
                lines.append(f"  {k}: {s[k]}")
        order = sorted(range(len(self)), key=lambda i: -self.points[i].accuracy)
        width = max([5, *(len(p.label) for p in self.points)])   # labels are never cut
        acc = f"acc (%, {self.accuracy_split})"
        lines.append(f"  {'':1} {'#':>3} {'label':<{width}} {acc:>{len(acc)}} "
                     f"{'latency (µs)':>12} {'energy (µJ)':>12} {'power (mW)':>11}")
        for i in order:
            p = self.points[i]
            mark = "*" if p.key in front else " "
            lines.append(f"  {mark} {i:>3} {p.label:<{width}} {100 * p.accuracy:>{len(acc)}.2f} "
                         f"{p.latency_s * 1e6:>12.2f} {p.energy_j * 1e6:>12.3f} "
                         f"{p.avg_power_w * 1e3:>11.2f}")
        return "\n".join(lines)
