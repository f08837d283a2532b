"""The simulator's records: one :class:`Request`, one :class:`Window`, one logged
:class:`SimDecision` and the run's :class:`Summary`, each a frozen dataclass with ``to_dict`` /
``from_dict``. Dicts exist only at the file edge: ``to_dict`` gives exactly the row that
``timeline.csv``, ``windows.csv``, ``decisions.csv`` and ``summary.json`` hold (the column
tuples below fix their order), and ``from_dict`` reads such a row back.

Which kind of run a summary comes from — a policy run on the whole table (``"dynamic"``) or
:func:`~dynpim.runtime.comparison.compare`'s run of one point (``"static"``) — is the typed field
:attr:`Summary.kind` (with :attr:`Summary.point`, the static point's label), written as the
``kind`` and ``point`` columns of ``summary.json`` (last, after the older columns; a file
without them reads back as a dynamic run). The ``name`` column is only a display name, never
read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

PolicyKind = Literal["dynamic", "static"]
KNOBS = ("width", "precision", "subarrays")  # what an operating-point switch can move

WINDOW_COLUMNS = ("t_start_s", "t_end_s", "power_cap_w", "power_w", "energy_j", "violation",
                  "served", "mean_accuracy")
DECISION_COLUMNS = ("time_s", "power_cap_w", "deadline_s", "rate_hz", "point", "point_index",
                    "accuracy", "feasible", "violated", "reason")
REQUEST_COLUMNS = ("request", "arrival_s", "start_s", "finish_s", "status", "point",
                   "point_index", "accuracy", "latency_s", "energy_j", "switch_energy_j",
                   "power_w", "cap_w", "deadline_s", "response_s", "missed", "over_cap",
                   "queue_len")
SERVED = "served"
DROP_REASONS = ("dropped_queue", "dropped_expired", "dropped_battery")


@dataclass(frozen=True)
class Request:
    """One request: its arrival and, once settled, its ``status`` (``"served"`` or one of
    :data:`DROP_REASONS`; ``""`` while queued). The service fields (``start_s`` ...
    ``over_cap``) describe how a served request ran; they are ``None`` for a dropped one (an
    empty cell in ``timeline.csv``). ``cap_w`` / ``deadline_s`` of a served request are the
    budget in force (``None``: unconstrained)."""

    request: int
    arrival_s: float
    queue_len: int  # requests waiting when it arrived
    status: str = ""
    start_s: float | None = None
    finish_s: float | None = None
    point: str | None = None  # the operating point's label
    point_index: int | None = None  # its index in the table
    accuracy: float | None = None
    latency_s: float | None = None
    energy_j: float | None = None
    switch_energy_j: float | None = None
    power_w: float | None = None
    cap_w: float | None = None
    deadline_s: float | None = None
    response_s: float | None = None
    missed: int | None = None  # 1: finished after its deadline
    over_cap: int | None = None  # 1: ran above the power cap in force at its start

    @property
    def served(self) -> bool:
        return self.status == SERVED

    def to_dict(self) -> dict[str, Any]:
        """The ``timeline.csv`` row (``REQUEST_COLUMNS``): service columns ``""`` unless
        served."""
        if self.status != SERVED:
            return {k: getattr(self, k) if k in _REQUEST_ALWAYS else "" for k in REQUEST_COLUMNS}
        return {"request": self.request, "arrival_s": self.arrival_s, "start_s": self.start_s,
                "finish_s": self.finish_s, "status": self.status, "point": self.point,
                "point_index": self.point_index, "accuracy": self.accuracy,
                "latency_s": self.latency_s, "energy_j": self.energy_j,
                "switch_energy_j": self.switch_energy_j, "power_w": self.power_w,
                "cap_w": self.cap_w, "deadline_s": self.deadline_s,
                "response_s": self.response_s, "missed": self.missed,
                "over_cap": self.over_cap, "queue_len": self.queue_len}  # REQUEST_COLUMNS

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Request:
        served = d["status"] == SERVED
        vals: dict[str, Any] = {k: d[k] if served or k in _REQUEST_ALWAYS else None
                                for k in REQUEST_COLUMNS}
        return cls(**vals)


_REQUEST_ALWAYS = frozenset({"request", "arrival_s", "status", "queue_len"})


@dataclass(frozen=True)
class Window:
    """One cap-accounting window ``[t_start_s, t_end_s)``: its time-averaged cap, mean power
    (energy / length), energy, whether it violates the cap, requests started in it and their
    mean accuracy (NaN when none)."""

    t_start_s: float
    t_end_s: float
    power_cap_w: float
    power_w: float
    energy_j: float
    violation: int  # 1: power_w above power_cap_w
    served: int
    mean_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        """The ``windows.csv`` row (``WINDOW_COLUMNS``)."""
        return {k: getattr(self, k) for k in WINDOW_COLUMNS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Window:
        return cls(**{k: d[k] for k in WINDOW_COLUMNS})


@dataclass(frozen=True)
class SimDecision:
    """One logged controller decision (the simulator logs a change of point or of violated
    constraints): when, the budget in force, the point chosen (label, table index, accuracy)
    and the controller's verdict. Named apart from :class:`dynpim.runtime.Decision`, the
    controller's own answer, which it summarises."""

    time_s: float
    power_cap_w: float | None
    deadline_s: float | None
    rate_hz: float | None
    point: str
    point_index: int
    accuracy: float
    feasible: bool
    violated: tuple[str, ...]  # the constraints the point breaks
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The ``decisions.csv`` row (``DECISION_COLUMNS``; ``feasible`` 0/1, ``violated``
        joined by ``;``)."""
        return dict(zip(DECISION_COLUMNS, self.as_tuple()))

    def as_tuple(self) -> tuple[Any, ...]:
        """The row's values in ``DECISION_COLUMNS`` order."""
        return (self.time_s, self.power_cap_w, self.deadline_s, self.rate_hz, self.point,
                self.point_index, self.accuracy, int(self.feasible), ";".join(self.violated),
                self.reason)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SimDecision:
        v = d["violated"]
        return cls(d["time_s"], d["power_cap_w"], d["deadline_s"], d["rate_hz"], d["point"],
                   d["point_index"], d["accuracy"], bool(d["feasible"]),
                   tuple(v.split(";")) if v else (), d["reason"])


@dataclass(frozen=True)
class Summary:
    """The headline numbers of one run (docs/runtime.md, ``summary.json``).

    ``mean_accuracy_served_test`` / ``effective_accuracy_test`` / ``best_point_accuracy_test``:
    the served points re-scored with their test accuracies, for reporting; ``None`` (and absent
    from the dict) when the table carries none. ``kind`` / ``point``: see the module docstring;
    not columns of the dict."""

    name: str
    policy: str
    table_points: int
    trace: str
    duration_s: float
    requests_arrived: int
    requests_served: int
    requests_dropped: int
    dropped_by_reason: dict[str, int]
    mean_accuracy_served: float
    effective_accuracy: float
    total_energy_j: float
    inference_energy_j: float
    switch_energy_j: float
    idle_energy_j: float
    energy_per_inference_j: float
    deadline_misses: int
    mean_response_s: float
    p95_response_s: float
    window_s: float
    windows: int
    cap_violations: int
    cap_violation_fraction: float
    max_cap_overshoot_w: float
    inferences_over_cap: int
    infeasible_decisions: int
    switches: int
    battery_capacity_j: float | None
    battery_remaining_j: float | None
    point_usage: dict[str, int]
    accuracy_split: str
    # switches that moved each knob (one switch may move several): the sub-net's widths,
    # its precision (bits) and the powered sub-arrays
    switches_by_knob: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KNOBS, 0))
    mean_accuracy_served_test: float | None = None
    effective_accuracy_test: float | None = None
    best_point_accuracy_test: float | None = None
    kind: PolicyKind = "dynamic"
    point: str | None = None  # the static point's label (kind "static")

    def __post_init__(self) -> None:
        if self.kind not in ("dynamic", "static"):
            raise ValueError(f"kind must be 'dynamic' or 'static', got {self.kind!r}")
        if (self.kind == "static") != (self.point is not None):
            raise ValueError(f"a static run names its point and only a static run does "
                             f"(kind {self.kind!r}, point {self.point!r})")

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` object."""
        out = {k: getattr(self, k) for k in _SUMMARY_COLUMNS}
        if self.best_point_accuracy_test is not None:
            for k in _TEST_COLUMNS:
                out[k] = getattr(self, k)
        out["kind"], out["point"] = self.kind, self.point
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Summary:
        """The inverse of :meth:`to_dict` (a dict without ``kind`` reads as a dynamic run)."""
        vals = {k: d[k] for k in _SUMMARY_COLUMNS if k != "switches_by_knob"}
        vals["switches_by_knob"] = dict(d.get("switches_by_knob") or dict.fromkeys(KNOBS, 0))
        vals.update({k: d.get(k) for k in _TEST_COLUMNS})
        vals["dropped_by_reason"] = dict(vals["dropped_by_reason"])
        vals["point_usage"] = dict(vals["point_usage"])
        return cls(**vals, kind=d.get("kind", "dynamic"), point=d.get("point"))


_TEST_COLUMNS = ("mean_accuracy_served_test", "effective_accuracy_test",
                 "best_point_accuracy_test")
_SUMMARY_COLUMNS = tuple(f.name for f in fields(Summary)
                         if f.name not in _TEST_COLUMNS and f.name not in ("kind", "point"))


def kind_of(row: Summary | Mapping[str, Any]) -> PolicyKind:
    """The kind of run a summary (record or ``summary.json`` dict) comes from; a dict written
    before the ``kind`` column existed counts as ``"dynamic"``."""
    if isinstance(row, Summary):
        return row.kind
    return row.get("kind", "dynamic")
