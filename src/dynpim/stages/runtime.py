"""The run-time comparison stage (the demo's ``runtime`` step): the budget controller
simulated on a generated power-cap trace (ramp down, then a random walk), against the best
static operating point. Data comes from an operating table (``dynpim.runtime``); the result is
a JSON-ready dict for the report (``runtime.json``).

A run's kind and point come from the simulator's typed :class:`~dynpim.runtime.Summary`
(``kind``, ``point``); run names (``"dynamic:budget"``, ``"static:<point label>"``) are only
written, never parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dynpim.runtime import OperatingTable, best_static, compare_runs, generate, simulate
from dynpim.runtime.records import Summary


@dataclass(frozen=True)
class RunName:
    """The name of a simulated run: ``kind`` ``"dynamic"`` (``what`` = the policy) or
    ``"static"`` (``what`` = the operating point's label); text form ``"<kind>:<what>"``."""

    kind: str
    what: str

    KINDS = ("dynamic", "static")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"run name kind must be one of {self.KINDS}, got {self.kind!r}")

    @classmethod
    def of(cls, summary: Summary) -> RunName:
        """The name of a simulated run, from its typed summary (kind and point or policy)."""
        return cls(summary.kind, summary.point if summary.point is not None
                   else summary.policy)

    def __str__(self) -> str:
        return f"{self.kind}:{self.what}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "what": self.what}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunName:
        return cls(str(d["kind"]), str(d["what"]))


def compare_runtime(table: OperatingTable, *, seed: int = 0) -> dict[str, Any]:
    """Simulate the budget controller on a random-walk power cap spanning the table's power
    range, and the best static point on the same trace. The best static point is chosen on
    the table's (validation) accuracy; effective accuracies are also reported on test."""
    powers = sorted(p.avg_power_w for p in table)
    lo, hi = powers[0], powers[-1]
    fastest = min(p.latency_s for p in table)
    rate = 0.5 / max(p.latency_s for p in table)  # below the slowest point's capacity
    dur = max(2000 * fastest, 200.0 / rate)
    trace = generate("walk", duration_s=dur, dt_s=dur / 200, rate_hz=rate,
                     start_w=hi * 1.05, min_w=lo * 0.9, max_w=hi * 1.1,
                     sigma_w=(hi - lo) / 6, seed=seed)
    kw: dict[str, Any] = {"seed": seed, "min_dwell_s": 0.0}
    runs = compare_runs(table, trace, policies=("budget",), **kw)
    rows = [r.to_dict() for r in runs]
    dyn = simulate(table, trace, policy="budget", **kw)
    best_run = best_static(runs)
    best = best_run.to_dict() if best_run is not None else None
    static = None
    if best_run is not None:
        point = next(p for p in table if p.label == best_run.point)
        static = simulate(table.subset([point]), trace, policy="budget", **kw)
    return {
        "trace": {"kind": "random walk", "duration_s": dur, "rate_hz": rate,
                  "min_w": lo * 0.9, "max_w": hi * 1.1},
        "windows": windows(dyn, table), "static_windows": windows(static, table)
        if static else None, "static_label": f"best static point ({best['name']})"
        if best else "static", "comparison": [comparison_row(r) for r in rows],
        "dynamic": dyn.summary, "best_static": best,
        "accuracy_split": {"selection": table.accuracy_split, "reported": "test"}}


def windows(res: Any, table: OperatingTable) -> list[dict[str, Any]]:
    """Per-window rows for the report: time, cap, power, chosen point and its accuracy."""
    if res is None:
        return []
    dec = sorted(res.decisions, key=lambda d: d["time_s"])
    times = np.array([d["time_s"] for d in dec]) if dec else np.zeros(0)
    out = []
    for w in res.windows:
        i = int(np.searchsorted(times, w["t_start_s"], side="right")) - 1 if len(times) else -1
        d = dec[max(i, 0)] if dec else None
        point = table.points[d["point_index"]] if d else table.points[0]
        out.append({"time_s": w["t_start_s"], "cap_w": w["power_cap_w"], "power_w": w["power_w"],
                    "active_power_w": point.avg_power_w,
                    "point": d["point_index"] if d else 0, "accuracy": point.accuracy})
    return out


def comparison_row(r: dict[str, Any]) -> dict[str, Any]:
    """One row of the report's comparison table from a simulation summary."""
    return {"name": r["name"], "mean_accuracy_served": r["mean_accuracy_served"],
            "effective_accuracy": r["effective_accuracy"],
            "effective_accuracy_test": r.get("effective_accuracy_test"),
            "served": r["requests_served"],
            "deadline_misses": r["deadline_misses"],
            "cap_violation_windows": r["cap_violations"],
            "inferences_over_cap": r.get("inferences_over_cap"),
            "energy_j": r["total_energy_j"], "switches": r["switches"],
            "switches_by_knob": r.get("switches_by_knob")}
