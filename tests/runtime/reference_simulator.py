"""The simulator as it was before it streamed (commit 5241370, issue 20), kept verbatim as the
oracle of tests/runtime/test_simulator_streaming.py: the streaming simulator must give the same
results on small traces. Not part of the package."""

from __future__ import annotations

import csv
import heapq
import json
import math
import os
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynpim.runtime.controller import Budget, Controller
from dynpim.runtime.table import OperatingPoint, OperatingTable
from dynpim.runtime.traces import Trace

_DONE, _TRACE, _ARRIVAL = 0, 1, 2


def arrival_times(trace: Trace, mode: str = "poisson", seed: int = 0) -> np.ndarray:
    """Arrival times over the trace: cumulative rate crossing unit steps (deterministic, at
    k + 0.5) or the cumulative sum of Exp(1) draws (Poisson, time-rescaling)."""
    t, r = trace.time_s, trace.arrival_rate_hz[:-1]
    cum = np.concatenate([[0.0], np.cumsum(r * np.diff(t))])
    total = float(cum[-1])
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


@dataclass
class SimResult:
    """Per-request rows, per-window power rows, controller decisions and the summary."""

    summary: dict[str, Any]
    requests: list[dict[str, Any]] = field(repr=False)
    windows: list[dict[str, Any]] = field(repr=False)
    decisions: list[dict[str, Any]] = field(repr=False)

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, str]:
        """Write timeline.csv (requests), windows.csv, decisions.csv and summary.json."""
        os.makedirs(out_dir, exist_ok=True)
        paths = {}
        for name, rows in (("timeline", self.requests), ("windows", self.windows),
                           ("decisions", self.decisions)):
            path = os.path.join(out_dir, f"{name}.csv")
            with open(path, "w", newline="") as f:
                if rows:
                    w = csv.DictWriter(f, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(rows)
            paths[name] = path
        paths["summary"] = os.path.join(out_dir, "summary.json")
        with open(paths["summary"], "w") as f:
            json.dump(self.summary, f, indent=1)
            f.write("\n")
        return paths


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
    **controller_kwargs: Any,
) -> SimResult:
    """Run ``table`` under ``trace`` (see module docstring); returns a :class:`SimResult`.

    ``controller_kwargs`` (``min_dwell_s``, ``margin``, ``switch_energy_j``, ...) build the
    controller when ``controller`` is not given; a given controller is reset first.
    """
    if queue_limit is not None and queue_limit < 0:
        raise ValueError(f"queue_limit must be >= 0 or None, got {queue_limit!r}")
    for k, v in (("idle_power_w", idle_power_w), ("actual_latency_scale", actual_latency_scale),
                 ("actual_power_scale", actual_power_scale)):
        if not math.isfinite(v) or v < 0 or (k != "idle_power_w" and v == 0):
            raise ValueError(f"{k} must be finite and {'>= 0' if k == 'idle_power_w' else '> 0'}"
                             f", got {v!r}")
    if deadline_s is not None and not deadline_s > 0:
        raise ValueError(f"deadline_s must be > 0, got {deadline_s!r}")
    ctrl = controller or Controller(table, policy, **controller_kwargs)
    ctrl.reset()
    steps = np.diff(trace.time_s)
    win = float(window_s) if window_s is not None else float(steps.min())
    if not win > 0:
        raise ValueError(f"window_s must be > 0, got {window_s!r}")

    arr = arrival_times(trace, arrivals, seed)
    events: list[tuple[float, int, int]] = [(float(t), _TRACE, i)
                                            for i, t in enumerate(trace.time_s[:-1])]
    events += [(float(t), _ARRIVAL, i) for i, t in enumerate(arr)]
    heapq.heapify(events)

    battery = trace.battery_capacity_j
    remaining = battery if battery is not None else math.inf
    row = 0
    queue: deque[int] = deque()
    busy = False
    configured: OperatingPoint | None = None
    last_busy_end = trace.start_s
    segments: list[tuple[float, float, float]] = []  # (start, end, energy_j)
    requests: list[dict[str, Any] | None] = [None] * len(arr)
    decisions: list[dict[str, Any]] = []
    energy = {"inference": 0.0, "switch": 0.0, "idle": 0.0}
    switches = 0
    in_service: dict[str, Any] = {}

    def budget_at(t: float) -> Budget:
        cap = float(trace.power_cap_w[row])
        if battery is not None and t < trace.end_s:
            cap = min(cap, max(remaining, 0.0) / (trace.end_s - t))
        dl = deadline_s if deadline_s is not None else (
            float(trace.deadline_s[row]) if trace.deadline_s is not None else None)
        rate = float(trace.arrival_rate_hz[row]) if rate_aware and t < trace.end_s else None
        return Budget(cap, dl, None, min_accuracy, rate)

    def decide(t: float) -> Budget:
        b = budget_at(t)
        prev = ctrl.last_decision
        d = ctrl.decide(b, t)
        if prev is None or d.point != prev.point or d.violated != prev.violated:
            decisions.append({"time_s": t, "power_cap_w": b.power_w, "deadline_s": b.deadline_s,
                              "rate_hz": b.rate_hz, "point": d.point.label,
                              "point_index": table.index(d.point), "accuracy": d.point.accuracy,
                              "feasible": int(d.feasible), "violated": ";".join(d.violated),
                              "reason": d.reason})
        return b

    def draw_idle(until: float) -> None:
        nonlocal remaining, last_busy_end
        if until > last_busy_end and idle_power_w > 0:
            e = min(idle_power_w * (until - last_busy_end), max(remaining, 0.0))
            remaining -= e
            energy["idle"] += e
            segments.append((last_busy_end, until, e))
        last_busy_end = max(last_busy_end, until)

    def start(t: float) -> None:
        nonlocal busy, configured, remaining, switches
        while queue:
            rid = queue.popleft()
            req = requests[rid]
            b = decide(t)
            if drop_expired and b.deadline_s is not None and t - req["arrival_s"] > b.deadline_s:
                req["status"] = "dropped_expired"
                continue
            p = ctrl.current
            sw_e, sw_l = ctrl.switch_cost(configured, p)
            lat = p.latency_s * actual_latency_scale
            pw = p.avg_power_w * actual_power_scale
            e = p.energy_j * actual_latency_scale * actual_power_scale
            draw_idle(t)
            if e + sw_e > remaining:
                req["status"] = "dropped_battery"
                continue
            if configured is not None and p != configured:
                switches += 1
            configured = p
            remaining -= e + sw_e
            energy["inference"] += e
            energy["switch"] += sw_e
            if sw_e or sw_l:
                segments.append((t, t + sw_l, sw_e))
            finish = t + sw_l + lat
            segments.append((t + sw_l, finish, e))
            deadline = b.deadline_s
            req.update(start_s=t, finish_s=finish, status="served", point=p.label,
                       point_index=table.index(p), accuracy=p.accuracy, latency_s=lat,
                       energy_j=e, switch_energy_j=sw_e, power_w=pw, cap_w=b.power_w,
                       deadline_s=deadline, response_s=finish - req["arrival_s"],
                       missed=int(deadline is not None
                                  and finish - req["arrival_s"] > deadline * (1 + 1e-12)),
                       over_cap=int(b.power_w is not None and pw > b.power_w * (1 + 1e-12)))
            in_service.update(point=p, latency_s=lat, power_w=pw)
            heapq.heappush(events, (finish, _DONE, rid))
            busy = True
            return

    while events:
        t, kind, i = heapq.heappop(events)
        if kind == _TRACE:
            row = i
            decide(t)
        elif kind == _ARRIVAL:
            requests[i] = {"request": i, "arrival_s": t, "start_s": "", "finish_s": "",
                           "status": "", "point": "", "point_index": "", "accuracy": "",
                           "latency_s": "", "energy_j": "", "switch_energy_j": "", "power_w": "",
                           "cap_w": "", "deadline_s": "", "response_s": "", "missed": "",
                           "over_cap": "", "queue_len": len(queue)}
            decide(t)
            if queue_limit is not None and len(queue) >= queue_limit and busy:
                requests[i]["status"] = "dropped_queue"
                continue
            queue.append(i)
            if not busy:
                start(t)
        else:
            busy = False
            last_busy_end = t
            ctrl.observe(in_service["latency_s"], in_service["power_w"], in_service["point"])
            decide(t)
            start(t)
    end = max(trace.end_s, last_busy_end)
    draw_idle(end)

    reqs = [r for r in requests if r is not None]
    windows = _windows(trace, segments, win, end)
    summary = _summarise(reqs, windows, decisions, energy, switches, trace, battery, remaining,
                         ctrl, name or ctrl.policy, win)
    return SimResult(summary, reqs, windows, decisions)


def _windows(trace: Trace, segments: list[tuple[float, float, float]], win: float,
             end: float) -> list[dict[str, Any]]:
    """Energy per window (segments spread uniformly over their span) and the mean trace cap."""
    n = max(1, int(math.ceil((end - trace.start_s) / win - 1e-9)))
    edges = trace.start_s + win * np.arange(n + 1)
    e = np.zeros(n)
    for a, b, en in segments:
        if en <= 0:
            continue
        if b <= a:
            k = min(int((a - trace.start_s) / win), n - 1)
            e[k] += en
            continue
        lo = np.clip(edges[:-1], a, b)
        hi = np.clip(edges[1:], a, b)
        e += en * (hi - lo) / (b - a)
    # time-averaged cap per window: integrate the zero-order-hold cap (last value held past end)
    tt = np.concatenate([trace.time_s, [max(end, trace.end_s) + win]])
    cc = np.append(trace.power_cap_w[:-1], trace.power_cap_w[-2])
    cum = np.concatenate([[0.0], np.cumsum(cc * np.diff(tt))])
    cap_int = np.interp(edges, tt, cum)
    cap = np.diff(cap_int) / win
    power = e / win
    return [{"t_start_s": float(edges[k]), "t_end_s": float(edges[k + 1]),
             "power_cap_w": float(cap[k]), "power_w": float(power[k]), "energy_j": float(e[k]),
             "violation": int(power[k] > cap[k] * (1 + 1e-9) + 1e-15)} for k in range(n)]


def _summarise(reqs, windows, decisions, energy, switches, trace, battery, remaining, ctrl,
               name, win) -> dict[str, Any]:
    served = [r for r in reqs if r["status"] == "served"]
    drops = Counter(r["status"] for r in reqs if r["status"] != "served")
    n = len(reqs)
    on_time = [r for r in served if not r["missed"]]
    total = sum(energy.values())
    over = [w["power_w"] - w["power_cap_w"] for w in windows if w["violation"]]
    resp = np.array([r["response_s"] for r in served]) if served else np.zeros(0)
    return {
        "name": name,
        "policy": ctrl.policy,
        "table_points": len(ctrl.table),
        "trace": trace.name,
        "duration_s": trace.duration_s,
        "requests_arrived": n,
        "requests_served": len(served),
        "requests_dropped": sum(drops.values()),
        "dropped_by_reason": dict(drops),
        "mean_accuracy_served": float(np.mean([r["accuracy"] for r in served])) if served else 0.0,
        "effective_accuracy": sum(r["accuracy"] for r in on_time) / n if n else 0.0,
        "total_energy_j": total,
        "inference_energy_j": energy["inference"],
        "switch_energy_j": energy["switch"],
        "idle_energy_j": energy["idle"],
        "energy_per_inference_j": total / len(served) if served else 0.0,
        "deadline_misses": sum(r["missed"] for r in served),
        "mean_response_s": float(resp.mean()) if served else 0.0,
        "p95_response_s": float(np.percentile(resp, 95)) if served else 0.0,
        "window_s": win,
        "windows": len(windows),
        "cap_violations": len(over),
        "cap_violation_fraction": len(over) / len(windows) if windows else 0.0,
        "max_cap_overshoot_w": max(over, default=0.0),
        "inferences_over_cap": sum(r["over_cap"] for r in served),
        "infeasible_decisions": sum(1 for d in decisions if not d["feasible"]),
        "switches": switches,
        "battery_capacity_j": battery,
        "battery_remaining_j": None if battery is None else max(remaining, 0.0),
        "point_usage": dict(Counter(r["point"] for r in served)),
        "accuracy_split": ctrl.table.accuracy_split,
        **_test_report(ctrl.table, served, on_time, n),
    }


def _test_report(table: OperatingTable, served: list[dict[str, Any]],
                 on_time: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """The served points re-scored with their test accuracies (reporting only; the controller
    chose on ``accuracy``): empty when the table carries no test accuracies. The effective test
    accuracy can never exceed the best point's test accuracy (a mean of point accuracies;
    capped at the largest one against rounding in the sum)."""
    test = table.test_accuracies()
    if test is None:
        return {}
    best = max(test)
    return {
        "mean_accuracy_served_test": min(best, math.fsum(test[r["point_index"]] for r in served)
                                         / len(served)) if served else 0.0,
        "effective_accuracy_test": min(best, math.fsum(test[r["point_index"]] for r in on_time)
                                       / n) if n else 0.0,
        "best_point_accuracy_test": best,
    }
