"""The controller's fast paths (cached contexts, bisection on the running power minimum, the
cap-only least-violating shortcut) choose exactly what the plain definitions choose."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.nn import SubnetConfig
from dynpim.runtime import Budget, Controller, OperatingPoint, OperatingTable

points_st = st.lists(
    st.tuples(st.sampled_from([0.5, 0.7, 0.9, 0.91]), st.floats(1e-5, 1e-2),
              st.floats(1e-6, 1e-2), st.sampled_from([1e-3, 0.01, 0.02, 0.05, 0.3, 1.0])),
    min_size=1, max_size=10)
limit = st.one_of(st.none(), st.floats(1e-6, 2), st.just(0.0))
budget_st = st.tuples(limit, limit, limit, st.one_of(st.none(), st.floats(0, 1)),
                      st.one_of(st.none(), st.floats(0, 2000)))


def brute_best(c: Controller, b: Budget, tight: float, accuracy: bool):
    bb = b if accuracy else Budget(b.power_w, b.deadline_s, b.energy_j, None, b.rate_hz)
    ok = [p for p in c.table if not c._overshoot(p, bb, tight)]
    return min(ok, key=c._rank) if ok else None


def brute_least(c: Controller, b: Budget):
    bb = Budget(b.power_w, b.deadline_s, b.energy_j, None, b.rate_hz)

    def key(p):
        lat, pw, en = c.predicted(p)
        return (max(c._overshoot(p, bb, 0.0).values(), default=0.0), en, pw, -p.accuracy)

    return min(c.table, key=key)


@settings(max_examples=60, deadline=None)
@given(points_st, st.lists(budget_st, min_size=1, max_size=6),
       st.sampled_from(["active", "average"]), st.floats(0.5, 2.0), st.floats(0.5, 2.0))
def test_fast_choices_equal_the_definitions(raw, budgets, cap_mode, ls, ps) -> None:
    pts = [OperatingPoint(SubnetConfig([i + 1]), 1, a, lat, e, pw)
           for i, (a, lat, e, pw) in enumerate(raw)]
    c = Controller(OperatingTable.from_points(pts), cap_mode=cap_mode)
    c.latency_scale, c.power_scale = ls, ps
    for pw, dl, en, acc, rate in budgets:
        if dl == 0.0:
            dl = None
        b = Budget(pw, dl, en, acc, rate)
        for tight in (0.0, 0.05):
            for accuracy in (True, False):
                assert c._best(b, tight, accuracy=accuracy) is \
                    brute_best(c, b, tight, accuracy)
        assert c._least_violating(b) is brute_least(c, b)
        for p in c.table:
            assert c._fits(p, b, 0.0) == (not c._overshoot(p, b, 0.0))
    assert math.isfinite(c.latency_scale)


class PlainController(Controller):
    """decide() as first written: every candidate by the definitions (no caches, no
    bisection, the tightened best always computed, a new Decision every time)."""

    def decide(self, budget=None, now_s=None, **kw):
        from dynpim.runtime.controller import Decision

        b = budget if budget is not None else Budget(**kw)
        now = float(now_s)
        self.budget = b
        cur = self.current
        best_plain = brute_best(self, b, 0.0, True)
        best_tight = brute_best(self, b, self.margin, True) if self.margin > 0 else best_plain
        if best_plain is not None:
            if cur is None:
                target, reason = best_plain, "initial choice"
            elif not self._overshoot(cur, b, 0.0):
                cand = best_tight
                dwell_ok = now - self.since_s >= self.min_dwell_s
                if cand is not None and cand != cur and self._rank(cand) < self._rank(cur):
                    target, reason = (cand, "upgrade") if dwell_ok else (cur, "dwell")
                else:
                    target, reason = cur, "current point still best within hysteresis"
            else:
                target, reason = best_tight or best_plain, "current point breaks the budget"
        else:
            target = brute_best(self, b, 0.0, False)
            reason = "accuracy floor dropped: no point meets every constraint"
            if target is None:
                target = brute_least(self, b)
                reason = "infeasible: least-violating point"
        violated = tuple(self._overshoot(target, b, 0.0))
        switched = cur is not None and target != cur
        if target != cur:
            if cur is not None:
                self.switches += 1
            self.current, self.since_s = target, now
        d = Decision(target, not violated, violated, switched, reason)
        self.last_decision = d
        return d


@settings(max_examples=40, deadline=None)
@given(points_st, st.lists(budget_st, min_size=1, max_size=12),
       st.sampled_from([0.0, 0.05, 0.2]), st.sampled_from([0.0, 0.1, 2.0]))
def test_decisions_equal_the_plain_controller(raw, budgets, margin, dwell) -> None:
    pts = [OperatingPoint(SubnetConfig([i + 1]), 1, a, lat, e, pw)
           for i, (a, lat, e, pw) in enumerate(raw)]
    table = OperatingTable.from_points(pts)
    fast = Controller(table, margin=margin, min_dwell_s=dwell)
    plain = PlainController(table, margin=margin, min_dwell_s=dwell)
    for k, (pw, dl, en, acc, rate) in enumerate(budgets):
        b = Budget(pw, None if dl == 0.0 else dl, en, acc, rate)
        d1, d2 = fast.decide(b, 0.05 * k), plain.decide(b, 0.05 * k)
        assert (d1.point, d1.feasible, d1.violated, d1.switched, d1.reason) == \
            (d2.point, d2.feasible, d2.violated, d2.switched, d2.reason)
    assert fast.switches == plain.switches
