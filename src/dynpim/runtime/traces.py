"""Budget traces: time-varying power cap, request arrival rate and (optional) deadline.

A trace is piecewise constant (zero-order hold): row *i* holds from ``time_s[i]`` until
``time_s[i+1]``; the last row only marks the end of the trace. CSV columns carry their units:
``time_s,power_cap_w,arrival_rate_hz[,deadline_s]``. Comment lines start with ``#``; a comment
``# battery_capacity_j=<J>`` makes it a battery trace (the simulator then also caps power by the
remaining energy spread over the remaining time, and serves nothing once the battery is empty).

Generators (:func:`generate`, or spec strings ``kind:key=value,...`` via :func:`parse_spec`):
``step``, ``ramp``, ``walk`` (seeded random walk), ``sine`` and ``battery``.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynpim.errors import is_real

REQUIRED_COLUMNS = ("time_s", "power_cap_w", "arrival_rate_hz")
OPTIONAL_COLUMNS = ("deadline_s",)


@dataclass(frozen=True, eq=False)
class Trace:
    """Validated budget trace (numpy arrays of equal length >= 2)."""

    time_s: np.ndarray
    power_cap_w: np.ndarray
    arrival_rate_hz: np.ndarray
    deadline_s: np.ndarray | None = None
    battery_capacity_j: float | None = None
    name: str = "trace"
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        cols = {"time_s": self.time_s, "power_cap_w": self.power_cap_w,
                "arrival_rate_hz": self.arrival_rate_hz}
        if self.deadline_s is not None:
            cols["deadline_s"] = self.deadline_s
        n = None
        for name, v in cols.items():
            a = np.asarray(v, dtype=float)
            if a.ndim != 1:
                raise ValueError(f"trace {self.name!r}: column {name!r} must be 1-D")
            if n is None:
                n = len(a)
            elif len(a) != n:
                raise ValueError(f"trace {self.name!r}: column {name!r} has {len(a)} rows, "
                                 f"time_s has {n}")
            bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
            if bad.size:
                raise ValueError(f"trace {self.name!r}: column {name!r} row {int(bad[0])} must be "
                                 f"finite and >= 0, got {a[bad[0]]}")
            object.__setattr__(self, name, a)
        if n is None or n < 2:
            raise ValueError(f"trace {self.name!r}: need at least 2 rows (the last row marks the "
                             f"end of the trace), got {n or 0}")
        steps = np.diff(self.time_s)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(f"trace {self.name!r}: column 'time_s' must be strictly increasing; "
                             f"row {i} ({self.time_s[i]}) <= row {i - 1} ({self.time_s[i - 1]})")
        if self.deadline_s is not None and np.any(self.deadline_s[:-1] == 0):
            raise ValueError(f"trace {self.name!r}: column 'deadline_s' must be > 0")
        if self.battery_capacity_j is not None:
            c = self.battery_capacity_j
            if not is_real(c) or not math.isfinite(c) or c <= 0:
                raise ValueError(f"trace {self.name!r}: battery_capacity_j must be > 0, got {c!r}")

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def start_s(self) -> float:
        return float(self.time_s[0])

    @property
    def end_s(self) -> float:
        return float(self.time_s[-1])

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    # -- CSV --------------------------------------------------------------------------------
    def save_csv(self, path: str | os.PathLike[str]) -> None:
        cols = list(REQUIRED_COLUMNS) + (["deadline_s"] if self.deadline_s is not None else [])
        with open(path, "w", newline="") as f:
            if self.battery_capacity_j is not None:
                f.write(f"# battery_capacity_j={self.battery_capacity_j!r}\n")
            w = csv.writer(f)
            w.writerow(cols)
            for i in range(len(self)):
                w.writerow([repr(float(getattr(self, c)[i])) for c in cols])

    @classmethod
    def load_csv(cls, path: str | os.PathLike[str]) -> Trace:
        """Read and validate a trace CSV (errors name the column and row)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"trace {path!r} does not exist")
        meta: dict[str, str] = {}
        rows: list[list[str]] = []
        with open(path, newline="") as f:
            lines = []
            for line in f:
                if line.lstrip().startswith("#"):
                    body = line.lstrip()[1:].strip()
                    if "=" in body:
                        k, v = body.split("=", 1)
                        meta[k.strip()] = v.strip()
                elif line.strip():
                    lines.append(line)
            rows = list(csv.reader(lines))
        if not rows:
            raise ValueError(f"{path}: empty trace; need a header "
                             f"{','.join(REQUIRED_COLUMNS)}[,deadline_s] and rows")
        header = [h.strip() for h in rows[0]]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (header has "
                             f"{', '.join(header)}; units are part of the column names)")
        unknown = [h for h in header if h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; allowed: "
                             f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
        data: dict[str, list[float]] = {h: [] for h in header}
        for r, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}: line {r} has {len(row)} fields, header has "
                                 f"{len(header)}")
            for h, v in zip(header, row):
                try:
                    data[h].append(float(v))
                except ValueError:
                    raise ValueError(f"{path}: line {r}, column {h!r}: {v!r} is not a number") \
                        from None
        cap = None
        if "battery_capacity_j" in meta:
            try:
                cap = float(meta["battery_capacity_j"])
            except ValueError:
                raise ValueError(f"{path}: battery_capacity_j={meta['battery_capacity_j']!r} "
                                 f"is not a number") from None
        try:
            return cls(np.array(data["time_s"]), np.array(data["power_cap_w"]),
                       np.array(data["arrival_rate_hz"]),
                       np.array(data["deadline_s"]) if "deadline_s" in data else None,
                       cap, name=os.path.basename(path))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


# -- generators -----------------------------------------------------------------------------
MAX_TRACE_ROWS = 10_000_000  # 4 float columns: ~320 MB; the simulator streams 10^6 in seconds
_COMMON = {"duration_s": 10.0, "dt_s": 0.1, "rate_hz": 100.0, "deadline_s": None, "seed": 0}
_KINDS: dict[str, dict[str, Any]] = {
    "step": {"start_w": 1.0, "end_w": 0.1, "at_s": None},
    "ramp": {"start_w": 1.0, "end_w": 0.1},
    "walk": {"start_w": None, "min_w": 0.05, "max_w": 1.0, "sigma_w": 0.05},
    "sine": {"mean_w": 0.5, "amplitude_w": 0.4, "period_s": 5.0},
    "battery": {"capacity_j": 1.0, "cap_w": 1.0},
}


def generate(kind: str, **params: Any) -> Trace:
    """Build a trace of ``kind`` (``step``, ``ramp``, ``walk``, ``sine``, ``battery``).

    Common parameters: ``duration_s`` (10), ``dt_s`` sample step (0.1), ``rate_hz`` constant
    arrival rate (100), ``deadline_s`` (None = no deadline column), ``seed`` (walk only).
    Kind parameters (defaults in ``_KINDS``): step ``start_w, end_w, at_s`` (mid-trace);
    ramp ``start_w, end_w``; walk ``start_w, min_w, max_w, sigma_w`` (per step, reflected at the
    bounds); sine ``mean_w, amplitude_w, period_s`` (clipped at 0); battery ``capacity_j,
    cap_w`` (constant nominal cap; the simulator lowers it as the battery drains).
    """
    if kind not in _KINDS:
        raise ValueError(f"trace kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    allowed = {**_COMMON, **_KINDS[kind]}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"trace {kind}: unknown parameter(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(allowed)}")
    p = {**allowed, **params}
    for k, v in p.items():
        if v is None or k == "seed":
            continue
        if not is_real(v) or not math.isfinite(v) or v < 0:
            raise ValueError(f"trace {kind}: {k} must be a finite number >= 0, got {v!r}")
    dur, dt = float(p["duration_s"]), float(p["dt_s"])
    if dur <= 0 or dt <= 0:
        raise ValueError(f"trace {kind}: duration_s and dt_s must be > 0")
    rows = dur / dt
    if rows > MAX_TRACE_ROWS:
        raise ValueError(f"trace {kind}: duration_s / dt_s = {rows:.3g} rows is more than "
                         f"{MAX_TRACE_ROWS:,} (about {MAX_TRACE_ROWS * 32 // 2**20:,} MiB); "
                         f"use a larger dt_s or a shorter duration_s")
    n = max(1, int(math.ceil(rows - 1e-9)))
    t = np.minimum(np.arange(n + 1) * dt, dur)
    t[-1] = dur
    frac = t / dur
    battery = None
    if kind == "step":
        at = dur / 2 if p["at_s"] is None else float(p["at_s"])
        cap = np.where(t < at, p["start_w"], p["end_w"])
    elif kind == "ramp":
        cap = p["start_w"] + (p["end_w"] - p["start_w"]) * frac
    elif kind == "walk":
        lo, hi = float(p["min_w"]), float(p["max_w"])
        if lo > hi:
            raise ValueError(f"trace walk: min_w ({lo}) must be <= max_w ({hi})")
        rng = np.random.default_rng(int(p["seed"]))
        cap = np.empty(n + 1)
        x = (lo + hi) / 2 if p["start_w"] is None else float(p["start_w"])
        for i in range(n + 1):
            cap[i] = x
            x += rng.normal(0.0, p["sigma_w"])
            while x < lo or x > hi:  # reflect at the bounds
                x = 2 * lo - x if x < lo else 2 * hi - x
    elif kind == "sine":
        cap = np.maximum(0.0, p["mean_w"] + p["amplitude_w"]
                         * np.sin(2 * math.pi * t / p["period_s"]))
    else:
        if p["capacity_j"] <= 0:
            raise ValueError("trace battery: capacity_j must be > 0")
        cap = np.full(n + 1, float(p["cap_w"]))
        battery = float(p["capacity_j"])
    rate = np.full(n + 1, float(p["rate_hz"]))
    dl = None if p["deadline_s"] is None else np.full(n + 1, float(p["deadline_s"]))
    meta = {"kind": kind, **{k: v for k, v in p.items() if v is not None}}
    return Trace(t, np.asarray(cap, dtype=float), rate, dl, battery, name=kind, meta=meta)


def parse_spec(spec: str) -> Trace:
    """Generate a trace from ``"kind:key=value,key=value"`` (e.g. ``ramp:start_w=1,end_w=0.1``)."""
    kind, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"trace spec {spec!r}: expected key=value, got {item!r}")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"trace spec {spec!r}: {key.strip()}={value!r} is not a number") \
                from None
    if "seed" in params:
        params["seed"] = int(params["seed"])
    return generate(kind.strip(), **params)
