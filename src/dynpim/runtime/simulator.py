"""Discrete-event simulation of a PIM accelerator serving inference requests under a budget trace.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

import numpy as np

from dynpim.errors import is_integer, is_real

from .controller import Budget, Controller
from .table import OperatingPoint, OperatingTable
from .traces import Trace

MAX_ARRIVALS = 20_000_000


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


WINDOW_COLUMNS = ("t_start_s", "t_end_s", "power_cap_w", "power_w", "energy_j", "violation",
                  "served", "mean_accuracy")
DECISION_COLUMNS = ("time_s", "power_cap_w", "deadline_s", "rate_hz", "point", "point_index",
                    "accuracy", "feasible", "violated", "reason")
REQUEST_COLUMNS = ("request", "arrival_s", "start_s", "finish_s", "status", "point",
                   "point_index", "accuracy", "latency_s", "energy_j", "switch_energy_j",
                   "power_w", "cap_w", "deadline_s", "response_s", "missed", "over_cap",
                   "queue_len")


@dataclass
class WindowStats:
    """Per-window aggregates, stored compactly (energy, mean cap, served count and accuracy
    sum per window); every other column is derived when read (:meth:`columns`)."""

    t0: float
    window_s: float
    energy_j: np.ndarray
    power_cap_w: np.ndarray
    served: np.ndarray
    accuracy_sum: np.ndarray

    def __len__(self) -> int:
        return len(self.energy_j)

    def columns(self) -> dict[str, np.ndarray]:
        """``WINDOW_COLUMNS`` as numpy arrays."""
        n, win = len(self), self.window_s
        edges = self.t0 + win * np.arange(n + 1)
        power = self.energy_j / win
        cap = self.power_cap_w
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_acc = np.where(self.served > 0,
                                self.accuracy_sum / np.maximum(self.served, 1), np.nan)
        return {"t_start_s": edges[:-1], "t_end_s": edges[1:], "power_cap_w": cap,
                "power_w": power, "energy_j": self.energy_j,
                "violation": violations(power, cap).astype(np.int64),
                "served": self.served, "mean_accuracy": mean_acc}


def violations(power: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Windows whose mean power exceeds their mean cap (relative tolerance 1e-9)."""
    return power > cap * (1 + 1e-9) + 1e-15


@dataclass
class SimResult:
    """The summary, per-window aggregates, the controller's decisions (one tuple per change of
    point or of violated constraints) and, only when asked for (``keep_requests=True``), one
    row per request.

    ``windows`` and ``decisions`` build their row dicts when read; :meth:`write` streams them.
    """

    summary: dict[str, Any]
    requests: list[dict[str, Any]] = field(repr=False)
    window_stats: WindowStats = field(repr=False)
    decision_rows: list[tuple[Any, ...]] = field(repr=False)

    @property
    def window_columns(self) -> dict[str, np.ndarray]:
        """Per-window columns (``WINDOW_COLUMNS``) as numpy arrays."""
        return self.window_stats.columns()

    @property
    def windows(self) -> list[dict[str, Any]]:
        """One dict per window: ``WINDOW_COLUMNS``."""
        return list(self._window_rows())

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """One dict per recorded decision: ``DECISION_COLUMNS``."""
        return [dict(zip(DECISION_COLUMNS, d)) for d in self.decision_rows]

    def _window_rows(self):
        cols = self.window_columns
        lists = [cols[c].tolist() for c in WINDOW_COLUMNS]
        for vals in zip(*lists):
            yield dict(zip(WINDOW_COLUMNS, vals))

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, str]:
        """Write windows.csv, decisions.csv, summary.json and (when the requests were kept)
        timeline.csv."""
        os.makedirs(out_dir, exist_ok=True)
        paths = {}
        streams = [("windows", WINDOW_COLUMNS, self._window_rows()),
                   ("decisions", DECISION_COLUMNS,
                    (dict(zip(DECISION_COLUMNS, d)) for d in self.decision_rows))]
        if self.requests:
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


class _Windows:
    """Energy, served requests and accuracy per window of ``win`` seconds from ``t0``,
    accumulated as segments arrive (memory: one float per window, grown on demand)."""

    def __init__(self, t0: float, win: float, n: int) -> None:
        self.t0, self.win = t0, win
        self.energy = np.zeros(max(n, 1))
        self.served = np.zeros(max(n, 1), dtype=np.int64)
        self.acc = np.zeros(max(n, 1))

    def _grow(self, k: int) -> None:
        if k >= len(self.energy):
            extra = max(k + 1, 2 * len(self.energy)) - len(self.energy)
            self.energy = np.concatenate([self.energy, np.zeros(extra)])
            self.served = np.concatenate([self.served, np.zeros(extra, dtype=np.int64)])
            self.acc = np.concatenate([self.acc, np.zeros(extra)])

    def add_energy(self, a: float, b: float, en: float) -> None:
        """Spread ``en`` uniformly over [a, b) (all of it in a's window when b <= a)."""
        if en <= 0:
            return
        t0, win = self.t0, self.win
        if b <= a:
            k = int((a - t0) / win)
            self._grow(k)
            self.energy[k] += en
            return
        k_lo = max(int(math.floor((a - t0) / win)) - 1, 0)
        k_hi = int(math.ceil((b - t0) / win)) + 1
        self._grow(k_hi)
        if k_hi - k_lo <= 3:  # the usual case: a service well inside one or two windows
            for k in range(k_lo, k_hi):
                lo = min(max(t0 + win * k, a), b)
                hi = min(max(t0 + win * (k + 1), a), b)
                if hi > lo:
                    self.energy[k] += en * (hi - lo) / (b - a)
            return
        edges = t0 + win * np.arange(k_lo, k_hi + 1)
        lo = np.clip(edges[:-1], a, b)
        hi = np.clip(edges[1:], a, b)
        self.energy[k_lo:k_hi] += en * (hi - lo) / (b - a)

    def add_served(self, t: float, accuracy: float) -> None:
        k = max(int((t - self.t0) / self.win), 0)
        self._grow(k)
        self.served[k] += 1
        self.acc[k] += accuracy

    def finish(self, trace: Trace, end: float) -> WindowStats:
        """The windows over [t0, end), with the time-averaged trace cap of each."""
        win = self.win
        n = max(1, int(math.ceil((end - trace.start_s) / win - 1e-9)))
        self._grow(n)
        for arr in (self.energy, self.served, self.acc):  # anything at or past ``end``
            arr[n - 1] += arr[n:].sum()
        # time-averaged cap per window: integrate the zero-order-hold cap (held past the end)
        tt = np.concatenate([trace.time_s, [max(end, trace.end_s) + win]])
        cum = np.diff(tt)
        cum *= np.append(trace.power_cap_w[:-1], trace.power_cap_w[-2])
        cum = np.concatenate([[0.0], np.cumsum(cum)])
        cap = np.diff(np.interp(trace.start_s + win * np.arange(n + 1), tt, cum)) / win
        del tt, cum
        out = WindowStats(self.t0, win, self.energy[:n].copy(), cap, self.served[:n].copy(),
                          self.acc[:n].copy())
        self.energy = self.served = self.acc = np.zeros(0)  # release the working arrays
        return out


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
    """Run ``table`` under ``trace`` (see module docstring); returns a :class:`SimResult`.

    Streams: events are merged from the trace rows, the (sorted) arrivals and the one request
    in service, so time is linear in rows + requests; memory holds aggregates per window and
    per point, the decisions and 8 bytes per served request (its response time, for the
    percentile), not the requests. ``keep_requests=True`` keeps one dict per request
    (``SimResult.requests``, ``timeline.csv``); ``request_sink`` is called with each request's
    dict once it is settled (served or dropped), in request order of settling.
    ``controller_kwargs`` (``min_dwell_s``, ``margin``, ``switch_energy_j``, ...) build the
    controller when ``controller`` is not given; a given controller is reset first.
    """
    check_options(queue_limit=queue_limit, idle_power_w=idle_power_w,
                  actual_latency_scale=actual_latency_scale,
                  actual_power_scale=actual_power_scale, deadline_s=deadline_s,
                  window_s=window_s, min_accuracy=min_accuracy)
    idle_power_w = float(idle_power_w)
    ctrl = controller or Controller(table, policy, **controller_kwargs)
    ctrl.reset()
    steps = np.diff(trace.time_s)
    if window_s is not None and not is_real(window_s):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    win = float(window_s) if window_s is not None else float(steps.min())
    if not win > 0 or not math.isfinite(win):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    keep = keep_requests or request_sink is not None

    # float arrays (8 bytes a value; indexing yields Python floats) for the event loop
    arr = _floats(arrival_times(trace, arrivals, seed))
    row_times = _floats(trace.time_s[:-1])
    caps = _floats(trace.power_cap_w)
    rates = _floats(trace.arrival_rate_hz)
    dls = _floats(trace.deadline_s) if trace.deadline_s is not None else None
    n_rows, n_arr = len(row_times), len(arr)
    t_end = trace.end_s
    index_of = {id(p): i for i, p in enumerate(table)}

    battery = trace.battery_capacity_j
    remaining = battery if battery is not None else math.inf
    row = 0
    queue: deque[int] = deque()
    busy = False
    configured: OperatingPoint | None = None
    last_busy_end = trace.start_s
    windows = _Windows(trace.start_s, win, int(math.ceil(trace.duration_s / win)) + 1)
    kept: list[dict[str, Any]] = []
    rows_of: dict[int, dict[str, Any]] = {}  # request dicts in flight (keep only)
    decisions: list[tuple[Any, ...]] = []
    energy = {"inference": 0.0, "switch": 0.0, "idle": 0.0}
    switches = 0
    in_service: tuple[OperatingPoint, float, float] | None = None
    finish_at = math.inf
    finish_rid = -1
    # aggregates
    drops: Counter[str] = Counter()
    served_n = 0
    acc_sum_on_time = 0.0
    acc_served_pairwise = array("d")
    responses = array("d")
    misses = 0
    over_cap = 0
    usage: dict[str, int] = {}
    served_per_point = [0] * len(table)
    on_time_per_point = [0] * len(table)

    def decide(t: float) -> Budget:
        cap = caps[row]
        if battery is not None and t < t_end:
            cap = min(cap, max(remaining, 0.0) / (t_end - t))
        b = Budget.trusted(cap, deadline_s if deadline_s is not None else (
            dls[row] if dls is not None else None), None, min_accuracy,
            rates[row] if rate_aware and t < t_end else None)
        prev = ctrl.last_decision
        d = ctrl.decide(b, t)
        if prev is None or d.point is not prev.point or d.violated != prev.violated:
            decisions.append((t, b.power_w, b.deadline_s, b.rate_hz, d.point.label,
                              index_of[id(d.point)], d.point.accuracy, int(d.feasible),
                              ";".join(d.violated), d.reason))
        return b

    def settle(rid: int, status: str) -> None:
        drops[status] += 1
        if keep:
            req = rows_of.pop(rid)
            req["status"] = status
            _emit(req)

    def _emit(req: dict[str, Any]) -> None:
        if request_sink is not None:
            request_sink(req)
        if keep_requests:
            kept.append(req)

    def draw_idle(until: float) -> None:
        nonlocal remaining, last_busy_end
        if until > last_busy_end and idle_power_w > 0:
            e = min(idle_power_w * (until - last_busy_end), max(remaining, 0.0))
            remaining -= e
            energy["idle"] += e
            windows.add_energy(last_busy_end, until, e)
        last_busy_end = max(last_busy_end, until)

    def start(t: float) -> None:
        nonlocal busy, configured, remaining, switches, in_service, finish_at, finish_rid
        nonlocal served_n, acc_sum_on_time, misses, over_cap
        while queue:
            rid = queue.popleft()
            b = decide(t)
            if drop_expired and b.deadline_s is not None and t - arr[rid] > b.deadline_s:
                settle(rid, "dropped_expired")
                continue
            p = ctrl.current
            sw_e, sw_l = ctrl.switch_cost(configured, p)
            lat = p.latency_s * actual_latency_scale
            pw = p.avg_power_w * actual_power_scale
            e = p.energy_j * actual_latency_scale * actual_power_scale
            draw_idle(t)
            if e + sw_e > remaining:
                settle(rid, "dropped_battery")
                continue
            if configured is not None and p != configured:
                switches += 1
            configured = p
            remaining -= e + sw_e
            energy["inference"] += e
            energy["switch"] += sw_e
            if sw_e or sw_l:
                windows.add_energy(t, t + sw_l, sw_e)
            finish = t + sw_l + lat
            windows.add_energy(t + sw_l, finish, e)
            windows.add_served(t, p.accuracy)
            deadline = b.deadline_s
            response = finish - arr[rid]
            missed = int(deadline is not None and response > deadline * (1 + 1e-12))
            over = int(b.power_w is not None and pw > b.power_w * (1 + 1e-12))
            pi = index_of[id(p)]
            served_n += 1
            served_per_point[pi] += 1
            acc_served_pairwise.append(p.accuracy)
            responses.append(response)
            misses += missed
            over_cap += over
            usage[p.label] = usage.get(p.label, 0) + 1
            if not missed:
                acc_sum_on_time += p.accuracy
                on_time_per_point[pi] += 1
            if keep:
                req = rows_of.pop(rid)
                req.update(start_s=t, finish_s=finish, status="served", point=p.label,
                           point_index=pi, accuracy=p.accuracy, latency_s=lat, energy_j=e,
                           switch_energy_j=sw_e, power_w=pw, cap_w=b.power_w,
                           deadline_s=deadline, response_s=response, missed=missed,
                           over_cap=over)
                _emit(req)
            in_service = (p, lat, pw)
            finish_at, finish_rid = finish, rid
            busy = True
            return

    i_row = i_arr = 0
    while True:
        t_row = row_times[i_row] if i_row < n_rows else math.inf
        t_arr = arr[i_arr] if i_arr < n_arr else math.inf
        # same order as a heap of (time, kind, index): completion < trace row < arrival
        if finish_at <= t_row and finish_at <= t_arr:
            if finish_at == math.inf:
                break
            t = finish_at
            busy = False
            finish_at = math.inf
            last_busy_end = t
            p, lat, pw = in_service
            ctrl.observe(lat, pw, p)
            decide(t)
            start(t)
        elif t_row <= t_arr:
            t = t_row
            row = i_row
            i_row += 1
            decide(t)
        else:
            t = t_arr
            i = i_arr
            i_arr += 1
            if keep:
                rows_of[i] = {"request": i, "arrival_s": t, "start_s": "", "finish_s": "",
                              "status": "", "point": "", "point_index": "", "accuracy": "",
                              "latency_s": "", "energy_j": "", "switch_energy_j": "",
                              "power_w": "", "cap_w": "", "deadline_s": "", "response_s": "",
                              "missed": "", "over_cap": "", "queue_len": len(queue)}
            decide(t)
            if queue_limit is not None and len(queue) >= queue_limit and busy:
                settle(i, "dropped_queue")
                continue
            queue.append(i)
            if not busy:
                start(t)
    end = max(trace.end_s, last_busy_end)
    draw_idle(end)

    if keep_requests:
        kept.sort(key=lambda r: r["request"])
    stats = windows.finish(trace, end)
    power = stats.energy_j / win
    viol = violations(power, stats.power_cap_w)
    over_w = (power - stats.power_cap_w)[viol]
    del power
    resp = np.frombuffer(responses, dtype=np.float64) if served_n else np.zeros(0)
    accs = np.frombuffer(acc_served_pairwise, dtype=np.float64)
    n = n_arr
    total = sum(energy.values())
    summary = {
        "name": name or ctrl.policy,
        "policy": ctrl.policy,
        "table_points": len(ctrl.table),
        "trace": trace.name,
        "duration_s": trace.duration_s,
        "requests_arrived": n,
        "requests_served": served_n,
        "requests_dropped": sum(drops.values()),
        "dropped_by_reason": dict(drops),
        "mean_accuracy_served": float(np.mean(accs)) if served_n else 0.0,
        "effective_accuracy": acc_sum_on_time / n if n else 0.0,
        "total_energy_j": total,
        "inference_energy_j": energy["inference"],
        "switch_energy_j": energy["switch"],
        "idle_energy_j": energy["idle"],
        "energy_per_inference_j": total / served_n if served_n else 0.0,
        "deadline_misses": misses,
        "mean_response_s": float(resp.mean()) if served_n else 0.0,
        "p95_response_s": float(np.percentile(resp, 95)) if served_n else 0.0,
        "window_s": win,
        "windows": len(viol),
        "cap_violations": int(viol.sum()),
        "cap_violation_fraction": float(viol.sum()) / len(viol) if len(viol) else 0.0,
        "max_cap_overshoot_w": max(over_w.tolist(), default=0.0),
        "inferences_over_cap": over_cap,
        "infeasible_decisions": sum(1 for d in decisions if not d[7]),
        "switches": switches,
        "battery_capacity_j": battery,
        "battery_remaining_j": None if battery is None else max(remaining, 0.0),
        "point_usage": usage,
        "accuracy_split": ctrl.table.accuracy_split,
        **_test_report(ctrl.table, served_per_point, on_time_per_point, n),
    }
    return SimResult(summary, kept, stats, decisions)


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


def compare(table: OperatingTable, trace: Trace, *,
            policies: tuple[str, ...] = ("budget", "feedback"), static: bool = True,
            **kwargs: Any) -> list[dict[str, Any]]:
    """Summaries of each policy on ``table`` and of every static point (the table restricted to
    that one point), all on the same trace and arrivals. ``kwargs`` go to :func:`simulate`."""
    rows = [simulate(table, trace, policy=p, name=f"dynamic:{p}", **kwargs).summary
            for p in policies]
    if static:
        for pt in table:
            kw = {k: v for k, v in kwargs.items() if k not in ("policy", "controller")}
            rows.append(simulate(table.subset([pt]), trace, policy="budget",
                                 name=f"static:{pt.label}", **kw).summary)
    return rows


def best_static(rows: list[dict[str, Any]], cap_mode: str = "active") -> dict[str, Any] | None:
    """The static row that breaks the cap least, then has the highest effective accuracy.

    "Breaks the cap" is counted like the controller reads the cap: inferences run above it
    (``cap_mode="active"``) or cap-violation windows (``"average"``).
    """
    col = {"active": "inferences_over_cap", "average": "cap_violations"}.get(cap_mode)
    if col is None:
        raise ValueError(f"cap_mode must be 'active' or 'average', got {cap_mode!r}")
    st = [r for r in rows if r["name"].startswith("static:")]
    return min(st, key=lambda r: (r[col], r["cap_violations"], -r["effective_accuracy"]),
               default=None)


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the headline numbers of :func:`compare` rows; accuracies in % on the
    table's split (named in the header), plus the effective test accuracy when the table
    carries test accuracies (reporting only)."""
    split = rows[0].get("accuracy_split", "unknown") if rows else "unknown"
    test = bool(rows) and all("effective_accuracy_test" in r for r in rows)
    head = (f"| run | served/arrived | mean acc. served % ({split}) | effective acc. % ({split}) "
            + ("| effective acc. % (test) " if test else "")
            + "| energy (mJ) | energy/inference (µJ) | deadline misses | cap viol. windows "
            "| inferences over cap "
            "| switches |")
    out = [head, "|" + "---|" * (11 if test else 10)]
    for r in rows:
        t = f"{100 * r['effective_accuracy_test']:.2f} | " if test else ""
        out.append(f"| {r['name']} | {r['requests_served']}/{r['requests_arrived']} | "
                   f"{100 * r['mean_accuracy_served']:.2f} | "
                   f"{100 * r['effective_accuracy']:.2f} | {t}"
                   f"{1e3 * r['total_energy_j']:.3f} | {1e6 * r['energy_per_inference_j']:.3f} | "
                   f"{r['deadline_misses']} | {r['cap_violations']}/{r['windows']} | "
                   f"{r['inferences_over_cap']}/{r['requests_served']} | {r['switches']} |")
    return "\n".join(out)
