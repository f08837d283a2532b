"""Run-time controller: picks the operating point for the current power/latency/energy budget.

Policies
--------
``budget``
    Open loop: trusts the table. The chosen point is the most accurate one that satisfies every
    given constraint (ties: lower energy, then lower power, then table order).
``feedback``
    Closed loop, for hardware whose cost model is imperfect: :meth:`Controller.observe` feeds
    measured latency/power back; the controller keeps a measured/modelled correction factor per
    quantity (the median of the last ``feedback_window`` ratios) and applies it to every
    point's modelled cost before checking constraints. When a measurement breaks the budget the
    factor jumps straight to the measured ratio for the next decision, so it steps down at once.

Sensor glitches
---------------
A reading that is not finite or not > 0 (NaN, inf, 0, negative) is **rejected**: it is
ignored, counted in :attr:`Controller.rejected_readings` and logged at WARNING on the
``dynpim.runtime`` logger; ``observe`` never raises for it (a serving loop must not die of a
bad sample). A reading that is not a number at all (a string, a bool) is a programming error and
raises ``ValueError``. Outliers are clamped: a measured/modelled ratio outside
``[1 / max_correction, max_correction]`` is clamped to it (counted in
:attr:`Controller.clamped_readings`). Since the factor is a median over a window, one glitch
never moves it, and ``feedback_window`` exact readings in a row bring it back to exactly 1: from
then on decisions equal the open-loop policy's.

Hysteresis
----------
On by default: ``margin=0.05`` and ``min_dwell_s=0.1`` (:data:`DEFAULT_MARGIN`,
:data:`DEFAULT_MIN_DWELL_S`); pass 0 for both to follow every change of the budget at once.

* ``margin`` (relative, 0..1): a switch to a *different* point is only made when that point
  fits the constraints tightened by ``margin`` (e.g. power <= cap * (1 - margin)); the current
  point is kept as long as it fits the plain constraints. A budget hovering at a boundary with
  noise smaller than the margin therefore cannot make the choice oscillate.
* ``min_dwell_s``: after a switch, voluntary switches (to a more accurate point) wait until the
  current point has been in use for ``min_dwell_s``. Forced switches (the current point breaks
  a constraint) happen at once: a cap is a hard limit.

Load
----
When the budget gives the arrival rate ``rate_hz``, a point must keep up (utilisation
``rho = rate_hz * latency_s <= 1``) and the deadline is checked against the response time
(queueing included) that only a fraction ``miss_target`` of requests exceed, from the M/D/1
exponential-tail approximation ``P(wait > t) ~ rho exp(-2 (1 - rho) t / latency_s)``:
``latency_s * (1 + ln(rho / miss_target) / (2 (1 - rho)))`` (just ``latency_s`` when
``rho <= miss_target``). ``cap_mode="active"`` (default)
compares the cap with the power drawn while computing (a hard supply limit);
``cap_mode="average"`` with the average power at that load, ``rate_hz * energy_j`` (a
RAPL-style average cap; idle power is not modelled by the controller).

Infeasible budgets never raise: the minimum-accuracy floor is dropped first (resource limits are
the hard ones); if no point meets the resource limits either, the point with the smallest worst
relative overshoot is chosen (for a power cap alone: the lowest-power, i.e. cheapest, point) and
the violated constraints are reported in the :class:`Decision`.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections import deque
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from dynpim.errors import is_real

from .table import OperatingPoint, OperatingTable

POLICIES = ("budget", "feedback")
DEFAULT_MARGIN = 0.05
DEFAULT_MIN_DWELL_S = 0.1
log = logging.getLogger("dynpim.runtime")


@dataclass(frozen=True)
class Budget:
    """Constraints for one decision; ``None`` = unconstrained.

    ``power_w``: cap on the power drawn while computing; ``deadline_s``: per-inference latency;
    ``energy_j``: energy per inference; ``min_accuracy``: accuracy floor (fraction);
    ``rate_hz``: request arrival rate the point must sustain (latency_s * rate_hz <= 1).
    """

    power_w: float | None = None
    deadline_s: float | None = None
    energy_j: float | None = None
    min_accuracy: float | None = None
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        for name in ("power_w", "deadline_s", "energy_j", "min_accuracy", "rate_hz"):
            v = getattr(self, name)
            if v is None:
                continue
            if not is_real(v) or not math.isfinite(v) or v < 0:
                raise ValueError(f"budget: {name} must be a finite number >= 0 or None, got {v!r}")
            object.__setattr__(self, name, float(v))  # numpy scalars -> float
        if self.min_accuracy is not None and self.min_accuracy > 1:
            raise ValueError(f"budget: min_accuracy is a fraction in [0, 1], "
                             f"got {self.min_accuracy!r}")

    @classmethod
    def trusted(cls, power_w: float | None, deadline_s: float | None, energy_j: float | None,
                min_accuracy: float | None, rate_hz: float | None) -> Budget:
        """A budget of floats already validated (the simulator's trace rows): no checks, for
        the hot loop of the simulator."""
        b = object.__new__(cls)
        b.__dict__.update(power_w=power_w, deadline_s=deadline_s, energy_j=energy_j,
                          min_accuracy=min_accuracy, rate_hz=rate_hz)
        return b


@dataclass(frozen=True)
class Decision:
    """Outcome of one :meth:`Controller.decide` call."""

    point: OperatingPoint
    feasible: bool
    violated: tuple[str, ...]
    switched: bool
    reason: str


_Context = tuple[list[OperatingPoint], list[float]]  # fitting points, running min power
# per point: (point, cap-compared power, worst other overshoot, energy, power, -accuracy),
# and the point indices in order of rising cap-compared power
_LeastRows = tuple[list[tuple[OperatingPoint, float, float, float, float, float]], list[int]]


def _over(value: float, limit: float) -> bool:
    """True when ``value`` breaks ``limit`` by more than 1e-12 relative (as in _overshoot)."""
    over = (value - limit) / limit if limit > 0 else (math.inf if value > 0 else 0.0)
    return over > 1e-12


class Controller:
    """Chooses operating points from ``table`` under a :class:`Budget` (see module docstring).

    ``switch_energy_j``/``switch_latency_s`` are the fixed cost of one reconfiguration and
    ``wake_energy_j``/``wake_latency_s`` the extra cost per sub-array woken from power gating;
    :meth:`switch_cost` returns them (the simulator charges them, the controller does not
    optimise over them beyond hysteresis).
    """

    def __init__(
        self,
        table: OperatingTable,
        policy: str = "budget",
        *,
        min_dwell_s: float = DEFAULT_MIN_DWELL_S,
        margin: float = DEFAULT_MARGIN,
        switch_energy_j: float = 0.0,
        switch_latency_s: float = 0.0,
        wake_energy_j: float = 0.0,
        wake_latency_s: float = 0.0,
        feedback_window: int = 5,
        max_correction: float = 8.0,
        cap_mode: str = "active",
        miss_target: float = 0.01,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"controller: policy must be one of {POLICIES}, got {policy!r}")
        if not isinstance(table, OperatingTable):
            raise ValueError("controller: table must be an OperatingTable")
        for name, v in (("min_dwell_s", min_dwell_s), ("switch_energy_j", switch_energy_j),
                        ("switch_latency_s", switch_latency_s), ("wake_energy_j", wake_energy_j),
                        ("wake_latency_s", wake_latency_s)):
            if not is_real(v) or not math.isfinite(v) or v < 0:
                raise ValueError(f"controller: {name} must be finite and >= 0, got {v!r}")
        if cap_mode not in ("active", "average"):
            raise ValueError(f"controller: cap_mode must be 'active' or 'average', "
                             f"got {cap_mode!r}")
        if not 0.0 < miss_target < 1.0:
            raise ValueError(f"controller: miss_target must be in (0, 1), got {miss_target!r}")
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"controller: margin must be in [0, 1), got {margin!r}")
        if isinstance(feedback_window, bool) or not isinstance(feedback_window, int) \
                or feedback_window < 1:
            raise ValueError(f"controller: feedback_window must be an integer >= 1, "
                             f"got {feedback_window!r}")
        if not is_real(max_correction) or not 1.0 < max_correction < math.inf:
            raise ValueError(f"controller: max_correction must be a finite number > 1, "
                             f"got {max_correction!r}")
        self.table = table
        self.policy = policy
        self.min_dwell_s = float(min_dwell_s)
        self.margin = float(margin)
        self.switch_energy_j = float(switch_energy_j)
        self.switch_latency_s = float(switch_latency_s)
        self.wake_energy_j, self.wake_latency_s = float(wake_energy_j), float(wake_latency_s)
        self.feedback_window = int(feedback_window)
        self.max_correction = float(max_correction)
        self.cap_mode = cap_mode
        self.miss_target = float(miss_target)
        self._order = {p.key: i for i, p in enumerate(table)}
        self.reset()

    def reset(self) -> None:
        """Forget the current point, the switch count and the feedback corrections."""
        self.current: OperatingPoint | None = None
        self.since_s = -math.inf
        self.switches = 0
        self.latency_scale = 1.0
        self.power_scale = 1.0
        self._ratios: dict[str, deque[float]] = {
            "latency_s": deque(maxlen=self.feedback_window),
            "power_w": deque(maxlen=self.feedback_window)}
        self.rejected_readings = 0
        self.clamped_readings = 0
        self._ranked_key: tuple[float, float] | None = None
        self._contexts: dict[tuple[Any, ...], _Context] = {}
        self._least: dict[tuple[Any, ...], _LeastRows] = {}
        self.last_decision: Decision | None = None
        self.budget = Budget()

    # -- cost predictions -------------------------------------------------------------------
    def predicted(self, p: OperatingPoint) -> tuple[float, float, float]:
        """(latency_s, power_w, energy_j) of ``p`` after the feedback corrections."""
        ls, ps = self.latency_scale, self.power_scale
        return p.latency_s * ls, p.avg_power_w * ps, p.energy_j * ls * ps

    def _overshoot(self, p: OperatingPoint, b: Budget, tight: float) -> dict[str, float]:
        """Relative overshoot (> 0 only when broken) of each given constraint."""
        lat, pw, en = self.predicted(p)
        k = 1.0 - tight
        out: dict[str, float] = {}
        load = lat * (b.rate_hz or 0.0)
        resp = lat
        if b.rate_hz:
            if self.cap_mode == "average":
                pw = en * b.rate_hz if load < 1 else pw
            # (1 - miss_target) quantile of the M/D/1 response time, exponential-tail
            # approximation: P(wait > t) ~ rho * exp(-2 (1 - rho) t / latency)
            if load >= 1:
                resp = math.inf
            elif load > self.miss_target:
                resp = lat * (1 + math.log(load / self.miss_target) / (2 * (1 - load)))
        for name, value, limit in (("power_w", pw, b.power_w), ("deadline_s", resp, b.deadline_s),
                                   ("energy_j", en, b.energy_j),
                                   ("rate_hz", load, 1.0 if b.rate_hz else None)):
            if limit is None:
                continue
            lim = limit * k
            over = (value - lim) / lim if lim > 0 else (math.inf if value > 0 else 0.0)
            if over > 1e-12:
                out[name] = over
        if b.min_accuracy is not None and p.accuracy < b.min_accuracy - 1e-12:
            out["min_accuracy"] = (b.min_accuracy - p.accuracy) / max(b.min_accuracy, 1e-12)
        return out

    def _fits(self, p: OperatingPoint, b: Budget, tight: float) -> bool:
        """``not self._overshoot(p, b, tight)``, without building the dict (the hot path)."""
        if b.min_accuracy is not None and p.accuracy < b.min_accuracy - 1e-12:
            return False
        ls, ps = self.latency_scale, self.power_scale
        lat, pw, en = p.latency_s * ls, p.avg_power_w * ps, p.energy_j * ls * ps
        k = 1.0 - tight
        resp = lat
        rate = b.rate_hz
        if rate:
            load = lat * rate
            if self.cap_mode == "average":
                pw = en * rate if load < 1 else pw
            if load >= 1:
                resp = math.inf
            elif load > self.miss_target:
                resp = lat * (1 + math.log(load / self.miss_target) / (2 * (1 - load)))
            if _over(load, k):
                return False
        if b.power_w is not None and _over(pw, b.power_w * k):
            return False
        if b.deadline_s is not None and _over(resp, b.deadline_s * k):
            return False
        return not (b.energy_j is not None and _over(en, b.energy_j * k))

    def _rank(self, p: OperatingPoint) -> tuple[float, float, float, int]:
        lat, pw, en = self.predicted(p)
        return (-p.accuracy, en, pw, self._order[p.key])

    def _ranked(self) -> list[OperatingPoint]:
        """The table sorted by :meth:`_rank` (cached per pair of correction factors)."""
        key = (self.latency_scale, self.power_scale)
        if self._ranked_key != key:
            self._ranked_points = sorted(self.table, key=self._rank)
            self._position = {id(p): i for i, p in enumerate(self._ranked_points)}
            self._ranked_key = key
        return self._ranked_points

    def _cap_power(self, p: OperatingPoint, rate: float | None) -> float:
        """The power of ``p`` that is compared with the cap (``cap_mode``), as in _overshoot."""
        ls, ps = self.latency_scale, self.power_scale
        lat, pw, en = p.latency_s * ls, p.avg_power_w * ps, p.energy_j * ls * ps
        if rate and self.cap_mode == "average":
            pw = en * rate if lat * rate < 1 else pw
        return pw

    def _context(self, b: Budget, tight: float, accuracy: bool) -> _Context:
        """The points (rank order) that meet every constraint of ``b`` but the power cap, and
        the running minimum of their cap-compared power. Cached: a trace changes its cap far
        more often than its deadline, rate or floor."""
        key = (b.deadline_s, b.rate_hz, b.energy_j, b.min_accuracy if accuracy else None, tight,
               self.latency_scale, self.power_scale)
        hit = self._contexts.get(key)
        if hit is None:
            rest = Budget.trusted(None, b.deadline_s, b.energy_j,
                                  b.min_accuracy if accuracy else None, b.rate_hz)
            pts = [p for p in self._ranked() if self._fits(p, rest, tight)]
            running = list(accumulate((self._cap_power(p, b.rate_hz) for p in pts), min))
            if len(self._contexts) >= 256:
                self._contexts.clear()
            hit = self._contexts[key] = (pts, running)
        return hit

    def _best(self, b: Budget, tight: float, *, accuracy: bool = True) -> OperatingPoint | None:
        """The best-ranked point that fits: among the points meeting every other constraint
        (rank order), the first whose power fits the cap, found by bisection on the running
        minimum of their power (whether a power fits is monotone in the power)."""
        pts, running = self._context(b, tight, accuracy)
        if not pts or b.power_w is None:
            return pts[0] if pts else None
        lim = b.power_w * (1.0 - tight)
        lo, hi = 0, len(pts)
        if lim > 0:
            while lo < hi:  # _over inlined: this is the simulator's innermost loop
                mid = (lo + hi) // 2
                if (running[mid] - lim) / lim > 1e-12:
                    lo = mid + 1
                else:
                    hi = mid
        else:
            while lo < hi:
                mid = (lo + hi) // 2
                if _over(running[mid], lim):
                    lo = mid + 1
                else:
                    hi = mid
        return pts[lo] if lo < len(pts) else None

    def _least_violating(self, b: Budget) -> OperatingPoint:
        """The point with the smallest worst relative overshoot of the resource limits (ties:
        lower energy, lower power, higher accuracy, table order)."""
        key = (b.deadline_s, b.rate_hz, b.energy_j, self.latency_scale, self.power_scale)
        hit = self._least.get(key)
        if hit is None:
            rest = Budget.trusted(None, b.deadline_s, b.energy_j, None, b.rate_hz)
            made = []
            for p in self.table:
                _, pw, en = self.predicted(p)
                other = max(self._overshoot(p, rest, 0.0).values(), default=0.0)
                made.append((p, self._cap_power(p, b.rate_hz), other, en, pw, -p.accuracy))
            order = sorted(range(len(made)), key=lambda i: made[i][1])
            if len(self._least) >= 256:
                self._least.clear()
            hit = self._least[key] = (made, order)
        rows, by_power = hit
        lim = b.power_w
        # in order of rising power the cap's overshoot never falls: once it alone exceeds the
        # best worst overshoot found, no later point can do better
        best_i, best_key = -1, None
        for i in by_power:
            p, cap_pw, other, en, pw, neg_acc = rows[i]
            cap_over = 0.0
            if lim is not None:
                over = (cap_pw - lim) / lim if lim > 0 else (math.inf if cap_pw > 0 else 0.0)
                if over > 1e-12:
                    cap_over = over
            if best_key is not None and cap_over > best_key[0]:
                break
            k = (max(other, cap_over), en, pw, neg_acc, i)
            if best_key is None or k < best_key:
                best_i, best_key = i, k
        return rows[best_i][0]

    # -- decisions --------------------------------------------------------------------------
    def decide(self, budget: Budget | None = None, now_s: float | None = None, **kw) -> Decision:
        """Choose a point for ``budget`` (or keyword constraints) at time ``now_s``.

        ``now_s`` defaults to ``time.monotonic()``. Never raises for an infeasible budget.
        """
        b = budget if budget is not None else Budget(**kw)
        now = time.monotonic() if now_s is None else float(now_s)
        self.budget = b
        cur = self.current
        best_plain = self._best(b, 0.0)
        # points fitting the tightened budget fit the plain one, so the tight best never ranks
        # above the plain best: it is only computed where it can change the answer
        if best_plain is not None:
            if cur is None:
                target, reason = best_plain, "initial choice"
            elif cur is best_plain:
                target, reason = cur, "current point still best within hysteresis"
            elif self._fits(cur, b, 0.0):
                cand = self._best(b, self.margin) if self.margin > 0 else best_plain
                dwell_ok = now - self.since_s >= self.min_dwell_s
                pos = self._position
                if cand is not None and cand != cur and pos[id(cand)] < pos[id(cur)]:
                    target, reason = (cand, "upgrade") if dwell_ok else (cur, "dwell")
                else:
                    target, reason = cur, "current point still best within hysteresis"
            else:
                best_tight = self._best(b, self.margin) if self.margin > 0 else best_plain
                target, reason = best_tight or best_plain, "current point breaks the budget"
        else:
            floorless = self._best(b, 0.0, accuracy=False)
            if floorless is not None:
                target = floorless
                reason = "accuracy floor dropped: no point meets every constraint"
            else:
                target = self._least_violating(b)
                reason = "infeasible: least-violating point"
        # a point chosen among the fitting ones breaks nothing (tight fits imply plain fits)
        violated = () if best_plain is not None else tuple(self._overshoot(target, b, 0.0))
        changed = target is not cur and target != cur
        switched = cur is not None and changed
        if changed:
            if cur is not None:
                self.switches += 1
            self.current, self.since_s = target, now
        last = self.last_decision
        if last is not None and not changed and last.point is target and not last.switched \
                and last.reason == reason and last.violated == violated:
            return last  # the same (immutable) decision again: the steady state of a trace
        d = Decision(target, not violated, violated, switched, reason)
        self.last_decision = d
        return d

    def select(self, power_w: float | None = None, deadline_s: float | None = None,
               energy_j: float | None = None, min_accuracy: float | None = None,
               now_s: float | None = None, rate_hz: float | None = None) -> OperatingPoint:
        """The chosen :class:`OperatingPoint` under these constraints (docs/runtime.md,
        "Controller"); :meth:`decide` with a :class:`Budget` of them.

        Feasibility and violated constraints are in :attr:`last_decision` / :attr:`last_violation`.
        """
        b = Budget(power_w, deadline_s, energy_j, min_accuracy, rate_hz)
        return self.decide(b, now_s).point

    @property
    def last_violation(self) -> tuple[str, ...]:
        """Constraints the last chosen point breaks (empty when it was feasible)."""
        return self.last_decision.violated if self.last_decision else ()

    # -- feedback and costs -----------------------------------------------------------------
    def observe(self, latency_s: float | None = None, power_w: float | None = None,
                point: OperatingPoint | None = None, budget: Budget | None = None) -> bool:
        """Report a measurement of ``point`` (default: the current one); returns False when a
        given reading was rejected (see "Sensor glitches" in the module docstring).

        ``budget`` defaults to the one of the last decision. Only the ``feedback`` policy uses
        measurements; ``budget`` ignores them (open loop) but still checks them.
        """
        lat = self._reading("latency_s", latency_s)
        pw = self._reading("power_w", power_w)
        accepted = (lat is not None or latency_s is None) and (pw is not None or power_w is None)
        if self.policy != "feedback":
            return accepted
        budget = budget if budget is not None else self.budget
        p = point or self.current
        if p is None:
            return accepted
        if lat is not None and p.latency_s > 0:
            self.latency_scale = self._update("latency_s", lat / p.latency_s,
                                              budget.deadline_s is not None
                                              and lat > budget.deadline_s)
        if pw is not None and p.avg_power_w > 0:
            self.power_scale = self._update("power_w", pw / p.avg_power_w,
                                            budget.power_w is not None and pw > budget.power_w)
        return accepted

    def _reading(self, name: str, v: float | None) -> float | None:
        """``v`` as a float, or None when absent or rejected (non-finite or <= 0)."""
        if v is None:
            return None
        if not is_real(v):
            raise ValueError(f"controller.observe: {name} must be a number or None, got {v!r}")
        if not math.isfinite(v) or v <= 0:
            self.rejected_readings += 1
            log.warning("controller: rejected %s reading %r (must be finite and > 0)", name, v)
            return None
        return float(v)

    def _update(self, name: str, ratio: float, breaks_budget: bool) -> float:
        """New correction factor after one measured/modelled ``ratio``: the median of the
        window of clamped ratios, or the ratio itself when the reading broke the budget."""
        lo, hi = 1.0 / self.max_correction, self.max_correction
        if not lo <= ratio <= hi:
            self.clamped_readings += 1
            ratio = min(max(ratio, lo), hi)
        window = self._ratios[name]
        window.append(ratio)
        scale = statistics.median(window)
        return max(scale, ratio) if breaks_budget else scale

    def switch_cost(self, old: OperatingPoint | None, new: OperatingPoint) -> tuple[float, float]:
        """(energy_j, latency_s) of reconfiguring from ``old`` to ``new`` (0 if unchanged)."""
        if old is None or old == new:
            return 0.0, 0.0
        woken = max(0, new.active_subarrays - old.active_subarrays)
        return (self.switch_energy_j + woken * self.wake_energy_j,
                self.switch_latency_s + woken * self.wake_latency_s)
