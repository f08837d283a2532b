"""Discrete-event simulation of a PIM accelerator serving inference requests under a budget trace.

Where things are: :func:`simulate` checks its options and runs one :class:`Simulator` (the event
loop, its state as attributes) to a :class:`SimResult` holding the typed records of
``records.py`` (:class:`Summary`, :class:`Request`, :class:`SimDecision`, windows as
:class:`~dynpim.runtime.windows.WindowStats` columns, accumulated in ``windows.py``); dicts
appear only at the file edge (``SimResult.write``, and the ``summary`` / ``requests`` /
``windows`` / ``decisions`` views). ``comparison.py`` runs every policy and every static point
on one trace (:func:`~dynpim.runtime.comparison.compare_runs`) and reads the summaries.

Model (docs/runtime.md has the full semantics):

* Requests arrive in ``[trace.start_s, trace.end_s)`` at the trace's piecewise-constant rate,
  Poisson (seeded) or deterministic (evenly spaced in cumulative rate). One request is served at
  a time (batch 1), FIFO; an arrival that finds ``queue_limit`` requests waiting is dropped.
* A request is served at the controller's current operating point: service time and energy come
  from the table, times ``actual_latency_scale``/``actual_power_scale`` (to model an imperfect
  cost model). A change of point costs the controller's switch energy and latency, paid before
  the next service.
* The controller is re-evaluated at every trace row change, arrival and completion, with the
  budget in force: power cap, deadline (``deadline_s`` argument, else the trace column), and
  the arrival rate (a point must keep up: latency_s * rate_hz <= 1).
* After the trace ends no request arrives; the queue is drained at the last budget, so
  ``served + dropped == arrived`` always holds.
* Battery traces: the cap given to the controller is ``min(cap, remaining_j / remaining_s)``;
  a request whose energy does not fit in the remaining charge is dropped, so the total energy
  never exceeds the capacity.
* Cap violations: the run is cut into windows of ``window_s`` (default: the trace's smallest row
  step); a window violates the cap when the energy consumed in it divided by ``window_s``
  exceeds the time-averaged trace cap over it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat
from typing import Any

import numpy as np

from dynpim.errors import is_integer, is_real

from .controller import Budget, Controller
from .records import (
    DECISION_COLUMNS,
    KNOBS,
    REQUEST_COLUMNS,
    SERVED,
    WINDOW_COLUMNS,
    Request,
    SimDecision,
    Summary,
    Window,
)
from .table import OperatingPoint, OperatingTable
from .traces import Trace
from .windows import WindowAccumulator, WindowStats, violations, window_length

MAX_ARRIVALS = 20_000_000


def knobs_moved(old: OperatingPoint, new: OperatingPoint) -> tuple[str, ...]:
    """Which knobs (:data:`~dynpim.runtime.records.KNOBS`) a switch from ``old`` to ``new``
    moves: the sub-net's widths, its precision, the powered sub-arrays."""
    moved = (old.config != new.config, old.bits != new.bits,
             old.active_subarrays != new.active_subarrays)
    return tuple(k for k, m in zip(KNOBS, moved) if m)


def arrival_times(trace: Trace, mode: str = "poisson", seed: int = 0) -> np.ndarray:
    """Arrival times over the trace: cumulative rate crossing unit steps (deterministic, at
    k + 0.5) or the cumulative sum of Exp(1) draws (Poisson, time-rescaling)."""
    t, r = trace.time_s, trace.arrival_rate_hz[:-1]
    cum = np.concatenate([[0.0], np.cumsum(r * np.diff(t))])
    total = float(cum[-1])
    if total > MAX_ARRIVALS:
        raise ValueError(f"trace {trace.name!r}: {total:.3g} expected requests (rate x time) "
                         f"is more than {MAX_ARRIVALS:,} (8 bytes each to draw); lower the rate "
                         f"or shorten the trace")
    if mode == "deterministic":
        targets = np.arange(0.5, total, 1.0)
    elif mode == "poisson":
        rng = np.random.default_rng(seed)
        draws = rng.exponential(1.0, int(total + 10 * math.sqrt(total + 1) + 20))
        targets = np.cumsum(draws)
        while targets[-1] < total:
            more = np.cumsum(rng.exponential(1.0, len(targets))) + targets[-1]
            targets = np.concatenate([targets, more])
        targets = targets[targets < total]
    else:
        raise ValueError(f"arrivals must be 'poisson' or 'deterministic', got {mode!r}")
    seg = np.searchsorted(cum, targets, side="left") - 1
    seg = np.clip(seg, 0, len(r) - 1)
    return t[seg] + (targets - cum[seg]) / r[seg]


def check_options(*, queue_limit: int | None = None, idle_power_w: float = 0.0,
                  actual_latency_scale: float = 1.0, actual_power_scale: float = 1.0,
                  deadline_s: float | None = None, window_s: float | None = None,
                  min_accuracy: float | None = None) -> None:
    """The checks :func:`simulate` makes of its options, for front-ends to run before work."""
    if queue_limit is not None and (not is_integer(queue_limit) or queue_limit < 0):
        raise ValueError(f"queue_limit must be an integer >= 0 or None, got {queue_limit!r}")
    for k, v in (("idle_power_w", idle_power_w), ("actual_latency_scale", actual_latency_scale),
                 ("actual_power_scale", actual_power_scale)):
        if not is_real(v) or not math.isfinite(v) or v < 0 or (k != "idle_power_w" and v == 0):
            raise ValueError(f"{k} must be finite and {'>= 0' if k == 'idle_power_w' else '> 0'}"
                             f", got {v!r}")
    if deadline_s is not None and (not is_real(deadline_s) or not deadline_s > 0
                                   or not math.isfinite(deadline_s)):
        raise ValueError(f"deadline_s must be > 0, got {deadline_s!r}")
    if window_s is not None and (not is_real(window_s) or not window_s > 0
                                 or not math.isfinite(window_s)):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    if min_accuracy is not None and (not is_real(min_accuracy) or not 0 <= min_accuracy <= 1):
        raise ValueError(f"min_accuracy is a fraction in [0, 1], got {min_accuracy!r}")


def _floats(a: np.ndarray) -> array:
    """``a`` as an ``array('d')``: compact, and indexing it gives Python floats (fast)."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return out


@dataclass
class SimResult:
    """One run's records: its :class:`Summary`, the per-window aggregates, the logged controller
    decisions (one :class:`SimDecision` per change of point or of violated constraints) and,
    only when asked for (``keep_requests=True``), one :class:`Request` per request.

    ``summary``, ``requests``, ``windows`` and ``decisions`` are the same as the dicts the
    output files hold (the file edge; ``summary`` keeps its record); :meth:`write` streams
    them.
    """

    summary_record: Summary
    request_records: list[Request] = field(repr=False)
    window_stats: WindowStats = field(repr=False)
    decision_records: list[SimDecision] = field(repr=False)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` dict."""
        return self.summary_record.to_dict()

    @cached_property
    def requests(self) -> list[dict[str, Any]]:
        """One ``timeline.csv`` row per kept request, in request order."""
        return [r.to_dict() for r in self.request_records]

    @property
    def window_columns(self) -> dict[str, np.ndarray]:
        """Per-window columns (``WINDOW_COLUMNS``) as numpy arrays."""
        return self.window_stats.columns()

    @property
    def window_records(self) -> list[Window]:
        """One :class:`Window` per window."""
        return [Window(**row) for row in self._window_rows()]

    @property
    def windows(self) -> list[dict[str, Any]]:
        """One ``windows.csv`` row per window."""
        return list(self._window_rows())

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """One ``decisions.csv`` row per logged decision."""
        return [d.to_dict() for d in self.decision_records]

    @property
    def decision_rows(self) -> list[tuple[Any, ...]]:
        """The logged decisions as tuples in ``DECISION_COLUMNS`` order."""
        return [d.as_tuple() for d in self.decision_records]

    def _window_rows(self) -> Iterator[dict[str, Any]]:
        cols = self.window_columns
        lists = [cols[c].tolist() for c in WINDOW_COLUMNS]
        for vals in zip(*lists):
            yield dict(zip(WINDOW_COLUMNS, vals))

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, str]:
        """Write windows.csv, decisions.csv, summary.json and (when the requests were kept)
        timeline.csv."""
        os.makedirs(out_dir, exist_ok=True)
        paths = {}
        streams: list[tuple[str, tuple[str, ...], Iterator[dict[str, Any]]]] = [
            ("windows", WINDOW_COLUMNS, self._window_rows()),
            ("decisions", DECISION_COLUMNS, (d.to_dict() for d in self.decision_records))]
        if self.request_records:
            streams.insert(0, ("timeline", REQUEST_COLUMNS, iter(self.requests)))
        for name, columns, rows in streams:
            path = os.path.join(out_dir, f"{name}.csv")
            with open(path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(columns))
                w.writeheader()
                w.writerows(rows)
            paths[name] = path
        paths["summary"] = os.path.join(out_dir, "summary.json")
        with open(paths["summary"], "w") as f:
            json.dump(self.summary, f, indent=1)
            f.write("\n")
        return paths


@dataclass(frozen=True)
class SimOptions:
    """The knobs of one run (checked by :func:`check_options`; see :func:`simulate`)."""

    window_s: float
    deadline_s: float | None = None
    min_accuracy: float | None = None
    queue_limit: int | None = 64
    idle_power_w: float = 0.0
    rate_aware: bool = True
    drop_expired: bool = False
    latency_scale: float = 1.0  # actual / modelled latency
    power_scale: float = 1.0  # actual / modelled power


class Simulator:
    """One run of a controller over a trace (module docstring): an event loop that merges three
    time-ordered streams — the trace rows, the arrivals and the one request in service — into
    the state held by its attributes. Build it, call :meth:`run` once; :func:`simulate` does
    both.

    Memory holds aggregates per window and per point, the logged decisions and 8 bytes per
    served request (its response time, for the percentile), plus, when requests are kept or
    sunk, the arrival time and queue length met of each request in flight."""

    def __init__(self, table: OperatingTable, ctrl: Controller, trace: Trace,
                 arrivals: np.ndarray, opts: SimOptions, *, name: str | None = None,
                 keep_requests: bool = False,
                 request_sink: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.ctrl, self.trace, self.opts, self.name = ctrl, trace, opts, name
        self.keep_requests, self.sink = keep_requests, request_sink
        self.keep = keep_requests or request_sink is not None
        # float arrays (8 bytes a value; indexing yields Python floats) for the event loop
        self.arr = _floats(arrivals)
        self.row_times = _floats(trace.time_s[:-1])
        self.caps = _floats(trace.power_cap_w)
        self.rates = _floats(trace.arrival_rate_hz)
        self.dls = _floats(trace.deadline_s) if trace.deadline_s is not None else None
        self.t_end = trace.end_s
        self.index_of = {id(p): i for i, p in enumerate(table)}
        self.battery = trace.battery_capacity_j
        self.remaining = self.battery if self.battery is not None else math.inf
        # where the run is
        self.row = 0  # the trace row in force
        self.queue: deque[int] = deque()
        self.busy = False
        self.configured: OperatingPoint | None = None  # the point the hardware is set to
        self.in_service: tuple[OperatingPoint, float, float] | None = None  # point, lat, power
        self.finish_at = math.inf
        self.last_busy_end = trace.start_s
        self.windows = WindowAccumulator(trace.start_s, opts.window_s,
                                int(math.ceil(trace.duration_s / opts.window_s)) + 1)
        # arrival time and queue length met, of each queued request (when kept or sunk)
        self.in_flight: dict[int, tuple[float, int]] = {}
        self.kept: list[Request] = []
        self.decisions: list[SimDecision] = []
        # tallies for the summary
        self.energy = {"inference": 0.0, "switch": 0.0, "idle": 0.0}
        self.switches = 0
        self.knob_moves = dict.fromkeys(KNOBS, 0)
        self.drops: Counter[str] = Counter()
        self.served_n = 0
        self.acc_sum_on_time = 0.0
        self.acc_served = array("d")
        self.responses = array("d")
        self.misses = 0
        self.over_cap = 0
        self.usage: dict[str, int] = {}
        self.served_per_point = [0] * len(table)
        self.on_time_per_point = [0] * len(table)

    def run(self) -> SimResult:
        """Every event in time order, then the queue drained; the run's :class:`SimResult`."""
        arr, row_times = self.arr, self.row_times
        n_rows, n_arr = len(row_times), len(arr)
        decide = self._decide
        i_row = i_arr = 0
        while True:
            t_row = row_times[i_row] if i_row < n_rows else math.inf
            t_arr = arr[i_arr] if i_arr < n_arr else math.inf
            finish_at = self.finish_at
            # same order as a heap of (time, kind, index): completion < trace row < arrival
            if finish_at <= t_row and finish_at <= t_arr:
                if finish_at == math.inf:
                    break
                self._complete(finish_at)
            elif t_row <= t_arr:
                self.row = i_row
                i_row += 1
                decide(t_row)
            else:
                self._arrive(i_arr, t_arr)
                i_arr += 1
        end = max(self.trace.end_s, self.last_busy_end)
        self._draw_idle(end)
        return self._result(end)

    def _complete(self, t: float) -> None:
        """The request in service finishes at ``t``: feed the controller, start the next."""
        assert self.in_service is not None
        self.busy = False
        self.finish_at = math.inf
        self.last_busy_end = t
        p, lat, pw = self.in_service
        self.ctrl.observe(lat, pw, p)
        self._decide(t)
        self._start(t)

    def _arrive(self, rid: int, t: float) -> None:
        """Request ``rid`` arrives at ``t``: dropped on a full queue, else queued (and started
        when the accelerator is idle)."""
        if self.keep:
            self.in_flight[rid] = (t, len(self.queue))
        self._decide(t)
        limit = self.opts.queue_limit
        if limit is not None and len(self.queue) >= limit and self.busy:
            self._settle(rid, "dropped_queue")
            return
        self.queue.append(rid)
        if not self.busy:
            self._start(t)

    def _decide(self, t: float) -> Budget:
        """Ask the controller under the budget in force at ``t``; log a change of point or of
        the constraints it breaks."""
        row, o = self.row, self.opts
        cap = self.caps[row]
        live = t < self.t_end
        if self.battery is not None and live:
            cap = min(cap, max(self.remaining, 0.0) / (self.t_end - t))
        deadline = o.deadline_s if o.deadline_s is not None else (
            self.dls[row] if self.dls is not None else None)
        b = Budget.trusted(cap, deadline, None, o.min_accuracy,
                           self.rates[row] if o.rate_aware and live else None)
        ctrl = self.ctrl
        prev = ctrl.last_decision
        d = ctrl.decide(b, t)
        if prev is None or d.point is not prev.point or d.violated != prev.violated:
            p = d.point
            self.decisions.append(SimDecision(t, b.power_w, b.deadline_s, b.rate_hz, p.label,
                                              self.index_of[id(p)], p.accuracy, d.feasible,
                                              d.violated, d.reason))
        return b

    def _start(self, t: float) -> None:
        """Serve the head of the queue at ``t``, dropping the requests that cannot be served
        (deadline already passed with ``drop_expired``; not enough charge left)."""
        queue, ctrl, o = self.queue, self.ctrl, self.opts
        while queue:
            rid = queue.popleft()
            b = self._decide(t)
            if o.drop_expired and b.deadline_s is not None and t - self.arr[rid] > b.deadline_s:
                self._settle(rid, "dropped_expired")
                continue
            p = ctrl.current
            assert p is not None  # set by the decision just taken
            sw_e, sw_l = ctrl.switch_cost(self.configured, p)
            e = p.energy_j * o.latency_scale * o.power_scale
            self._draw_idle(t)
            if e + sw_e > self.remaining:
                self._settle(rid, "dropped_battery")
                continue
            self._serve(rid, t, b, p, e, (sw_e, sw_l))
            return

    def _serve(self, rid: int, t: float, b: Budget, p: OperatingPoint, e: float,
               switch: tuple[float, float]) -> None:
        """Run request ``rid`` from ``t`` at point ``p`` (energy ``e``), after a switch costing
        ``(energy, latency)``; account for it."""
        o, w = self.opts, self.windows
        sw_e, sw_l = switch
        lat = p.latency_s * o.latency_scale
        pw = p.avg_power_w * o.power_scale
        if self.configured is not None and p != self.configured:
            self.switches += 1
            for knob in knobs_moved(self.configured, p):
                self.knob_moves[knob] += 1
        self.configured = p
        self.remaining -= e + sw_e
        self.energy["inference"] += e
        self.energy["switch"] += sw_e
        if sw_e or sw_l:
            w.add_energy(t, t + sw_l, sw_e)
        finish = t + sw_l + lat
        w.add_energy(t + sw_l, finish, e)
        w.add_served(t, p.accuracy)
        response = finish - self.arr[rid]
        missed = int(b.deadline_s is not None and response > b.deadline_s * (1 + 1e-12))
        over = int(b.power_w is not None and pw > b.power_w * (1 + 1e-12))
        pi = self._tally(p, response, missed, over)
        if self.keep:
            arrival, queued = self.in_flight.pop(rid)
            self._emit(Request(  # positional (the hot path): the fields' order
                rid, arrival, queued, SERVED, t, finish, p.label, pi, p.accuracy, lat, e, sw_e,
                pw, b.power_w, b.deadline_s, response, missed, over))
        self.in_service = (p, lat, pw)
        self.finish_at = finish
        self.busy = True

    def _tally(self, p: OperatingPoint, response: float, missed: int, over: int) -> int:
        """Count one served request in the summary's tallies; returns ``p``'s table index."""
        pi = self.index_of[id(p)]
        self.served_n += 1
        self.served_per_point[pi] += 1
        self.acc_served.append(p.accuracy)
        self.responses.append(response)
        self.misses += missed
        self.over_cap += over
        self.usage[p.label] = self.usage.get(p.label, 0) + 1
        if not missed:
            self.acc_sum_on_time += p.accuracy
            self.on_time_per_point[pi] += 1
        return pi

    def _settle(self, rid: int, status: str) -> None:
        """Drop request ``rid`` for ``status`` (one of ``DROP_REASONS``)."""
        self.drops[status] += 1
        if self.keep:
            arrival, queued = self.in_flight.pop(rid)
            self._emit(Request(rid, arrival, queued, status))

    def _emit(self, req: Request) -> None:
        if self.sink is not None:
            self.sink(req.to_dict())
        if self.keep_requests:
            self.kept.append(req)

    def _draw_idle(self, until: float) -> None:
        """Idle power from the end of the last busy span to ``until`` (clamped to the charge)."""
        idle_w = self.opts.idle_power_w
        if until > self.last_busy_end and idle_w > 0:
            e = min(idle_w * (until - self.last_busy_end), max(self.remaining, 0.0))
            self.remaining -= e
            self.energy["idle"] += e
            self.windows.add_energy(self.last_busy_end, until, e)
        self.last_busy_end = max(self.last_busy_end, until)

    def _result(self, end: float) -> SimResult:
        if self.keep_requests:
            self.kept.sort(key=lambda r: r.request)
        stats = self.windows.finish(self.trace, end)
        return SimResult(self._summary(stats), self.kept, stats, self.decisions)

    def _summary(self, stats: WindowStats) -> Summary:
        win = self.opts.window_s
        power = stats.energy_j / win
        viol = violations(power, stats.power_cap_w)
        over_w = (power - stats.power_cap_w)[viol]
        del power
        served, n, energy = self.served_n, len(self.arr), self.energy
        resp = np.frombuffer(self.responses, dtype=np.float64) if served else np.zeros(0)
        accs = np.frombuffer(self.acc_served, dtype=np.float64)
        total = sum(energy.values())
        ctrl, battery = self.ctrl, self.battery
        return Summary(
            name=self.name or ctrl.policy, policy=ctrl.policy, table_points=len(ctrl.table),
            trace=self.trace.name, duration_s=self.trace.duration_s, requests_arrived=n,
            requests_served=served, requests_dropped=sum(self.drops.values()),
            dropped_by_reason=dict(self.drops),
            mean_accuracy_served=float(np.mean(accs)) if served else 0.0,
            effective_accuracy=self.acc_sum_on_time / n if n else 0.0,
            total_energy_j=total, inference_energy_j=energy["inference"],
            switch_energy_j=energy["switch"], idle_energy_j=energy["idle"],
            energy_per_inference_j=total / served if served else 0.0,
            deadline_misses=self.misses,
            mean_response_s=float(resp.mean()) if served else 0.0,
            p95_response_s=float(np.percentile(resp, 95)) if served else 0.0,
            window_s=win, windows=len(viol), cap_violations=int(viol.sum()),
            cap_violation_fraction=float(viol.sum()) / len(viol) if len(viol) else 0.0,
            max_cap_overshoot_w=max(over_w.tolist(), default=0.0),
            inferences_over_cap=self.over_cap,
            infeasible_decisions=sum(1 for d in self.decisions if not d.feasible),
            switches=self.switches, switches_by_knob=dict(self.knob_moves),
            battery_capacity_j=battery,
            battery_remaining_j=None if battery is None else max(self.remaining, 0.0),
            point_usage=self.usage, accuracy_split=ctrl.table.accuracy_split,
            **_test_report(ctrl.table, self.served_per_point, self.on_time_per_point, n))


def simulate(
    table: OperatingTable,
    trace: Trace,
    *,
    policy: str = "budget",
    controller: Controller | None = None,
    deadline_s: float | None = None,
    min_accuracy: float | None = None,
    arrivals: str = "poisson",
    seed: int = 0,
    queue_limit: int | None = 64,
    window_s: float | None = None,
    idle_power_w: float = 0.0,
    rate_aware: bool = True,
    drop_expired: bool = False,
    actual_latency_scale: float = 1.0,
    actual_power_scale: float = 1.0,
    name: str | None = None,
    keep_requests: bool = False,
    request_sink: Callable[[dict[str, Any]], None] | None = None,
    **controller_kwargs: Any,
) -> SimResult:
    """Run ``table`` under ``trace`` (see module docstring) with a :class:`Simulator`; returns
    its :class:`SimResult`.

    Streams: events are merged from the trace rows, the (sorted) arrivals and the one request
    in service, so time is linear in rows + requests; memory holds aggregates per window and
    per point, the decisions and 8 bytes per served request (its response time, for the
    percentile), not the requests. ``keep_requests=True`` keeps one :class:`Request` per
    request (``SimResult.requests`` as dicts, ``timeline.csv``); ``request_sink`` is called
    with each request's dict once it is settled (served or dropped), in order of settling.
    ``controller_kwargs`` (``min_dwell_s``, ``margin``, ``switch_energy_j``, ...) build the
    controller when ``controller`` is not given; a given controller is reset first.
    """
    check_options(queue_limit=queue_limit, idle_power_w=idle_power_w,
                  actual_latency_scale=actual_latency_scale,
                  actual_power_scale=actual_power_scale, deadline_s=deadline_s,
                  window_s=window_s, min_accuracy=min_accuracy)
    ctrl = controller or Controller(table, policy, **controller_kwargs)
    ctrl.reset()
    opts = SimOptions(window_length(trace, window_s), deadline_s, min_accuracy, queue_limit,
                      float(idle_power_w), rate_aware, drop_expired, actual_latency_scale,
                      actual_power_scale)
    return Simulator(table, ctrl, trace, arrival_times(trace, arrivals, seed), opts, name=name,
                     keep_requests=keep_requests, request_sink=request_sink).run()


def _test_report(table: OperatingTable, served: list[int], on_time: list[int],
                 n: int) -> dict[str, Any]:
    """The served points re-scored with their test accuracies (reporting only; the controller
    chose on ``accuracy``): empty when the table carries no test accuracies. ``served`` /
    ``on_time``: requests per point (table order). The effective test accuracy can never
    exceed the best point's test accuracy (a mean of point accuracies; capped at the largest
    one against rounding in the sum)."""
    test = table.test_accuracies()
    if test is None:
        return {}
    best = max(test)
    n_served = sum(served)

    def total(counts: list[int]) -> float:  # exact sum of the multiset, like fsum of the rows
        return math.fsum(chain.from_iterable(repeat(a, c) for a, c in zip(test, counts)))

    return {
        "mean_accuracy_served_test": min(best, total(served) / n_served) if n_served else 0.0,
        "effective_accuracy_test": min(best, total(on_time) / n) if n else 0.0,
        "best_point_accuracy_test": best,
    }
