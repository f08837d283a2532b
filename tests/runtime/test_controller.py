import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.nn import SubnetConfig
from dynpim.runtime import Budget, Controller, OperatingPoint, OperatingTable

TOL = 1 + 1e-12  # the controller's documented relative tolerance


def feasible(p, power_w, deadline_s, energy_j, min_accuracy):
    return ((power_w is None or p.avg_power_w <= power_w * TOL)
            and (deadline_s is None or p.latency_s <= deadline_s * TOL)
            and (energy_j is None or p.energy_j <= energy_j * TOL)
            and (min_accuracy is None or p.accuracy >= min_accuracy - 1e-12))


def test_budget_picks_most_accurate_feasible(table):
    c = Controller(table)
    assert c.select() == table.most_accurate()
    p = c.select(power_w=0.1)
    assert p.avg_power_w <= 0.1
    assert p.accuracy == max(q.accuracy for q in table if q.avg_power_w <= 0.1)
    p = c.select(deadline_s=1e-3)
    assert p.latency_s <= 1e-3 and c.last_decision.feasible and c.last_violation == ()


def test_ties_broken_by_lower_energy():
    cfg = SubnetConfig([8])
    hi = OperatingPoint(cfg, 1, 0.9, 1e-3, 2e-4, 0.2)
    lo = OperatingPoint(cfg, 2, 0.9, 1e-3, 1e-4, 0.1)
    assert Controller(OperatingTable.from_points([hi, lo])).select() == lo


def test_infeasible_returns_cheapest_and_reports(table):
    c = Controller(table)
    d = c.decide(Budget(power_w=1e-6))
    assert d.point == table.cheapest()
    assert not d.feasible and d.violated == ("power_w",)
    # accuracy floor is dropped first: resource limits are hard
    d = c.decide(Budget(power_w=0.05, min_accuracy=0.99))
    assert d.point.avg_power_w <= 0.05 and d.violated == ("min_accuracy",)
    # impossible deadline: the fastest point is the least-violating one
    d = c.decide(Budget(deadline_s=1e-9))
    assert d.point.latency_s == min(p.latency_s for p in table)


def test_bad_arguments_rejected(table):
    with pytest.raises(ValueError, match="policy"):
        Controller(table, "greedy")
    with pytest.raises(ValueError, match="margin"):
        Controller(table, margin=1.5)
    with pytest.raises(ValueError, match="min_dwell_s"):
        Controller(table, min_dwell_s=-1)
    with pytest.raises(ValueError, match="power_w"):
        Controller(table).select(power_w=-1)
    with pytest.raises(ValueError, match="min_accuracy"):
        Controller(table).select(min_accuracy=2)


points_st = st.lists(
    st.tuples(st.floats(0, 1), st.floats(1e-5, 1e-2), st.floats(1e-6, 1e-2), st.floats(1e-3, 2)),
    min_size=1, max_size=12)
limit = st.one_of(st.none(), st.floats(1e-6, 3))


@settings(max_examples=150, deadline=None)
@given(points_st, st.lists(st.tuples(limit, limit, limit, st.one_of(st.none(), st.floats(0, 1))),
                           min_size=1, max_size=5))
def test_property_chosen_point_is_optimal(raw, budgets):
    pts = [OperatingPoint(SubnetConfig([i + 1]), 1, a, lat, e, pw)
           for i, (a, lat, e, pw) in enumerate(raw)]
    t = OperatingTable.from_points(pts)
    c = Controller(t, margin=0.0, min_dwell_s=0.0)  # no hysteresis: every decision optimal
    for k, (pw, dl, en, acc) in enumerate(budgets):
        p = c.select(power_w=pw, deadline_s=dl, energy_j=en, min_accuracy=acc, now_s=float(k))
        ok = [q for q in pts if feasible(q, pw, dl, en, acc)]
        if ok:
            assert feasible(p, pw, dl, en, acc)
            assert c.last_decision.feasible
            assert not any(q.accuracy > p.accuracy for q in ok)
            assert not any(q.accuracy == p.accuracy and q.energy_j < p.energy_j for q in ok)
        else:
            assert not c.last_decision.feasible and c.last_violation


def test_margin_and_dwell_bound_switches_on_noisy_cap(table):
    rng = np.random.default_rng(1)
    # a cap hovering at the boundary between two points, noise 3 % of the cap
    boundary = sorted({p.avg_power_w for p in table})[3]
    caps = boundary * (1 + 0.03 * rng.standard_normal(2000))
    times = np.arange(2000) * 0.01  # 20 s
    plain = Controller(table, margin=0.0, min_dwell_s=0.0)
    for t, cap in zip(times, caps):
        plain.select(power_w=cap, now_s=t)
    dwell_s = 1.0
    hyst = Controller(table, margin=0.1, min_dwell_s=dwell_s)
    for t, cap in zip(times, caps):
        p = hyst.select(power_w=cap, now_s=t)
        assert hyst.last_decision.feasible == (p.avg_power_w <= cap)
    assert plain.switches > 100
    n_pts = len(table)
    bound = 2 * (times[-1] / dwell_s + 1) + n_pts
    assert hyst.switches <= bound
    assert hyst.switches <= 5


def test_dwell_delays_upgrades_but_not_downgrades(table):
    c = Controller(table, min_dwell_s=1.0)
    big = c.select(now_s=0.0)
    small = c.select(power_w=0.05, now_s=0.1)
    assert small != big and small.avg_power_w <= 0.05  # forced down at once
    assert c.select(now_s=0.5) == small  # upgrade must wait for the dwell time
    assert c.last_decision.reason == "dwell"
    assert c.select(now_s=1.2) == big
    assert c.switches == 2


def test_feedback_steps_down_when_measured_latency_breaks_deadline(table):
    c = Controller(table, "feedback")
    dl = 1.5e-3
    p0 = c.select(deadline_s=dl, now_s=0)
    assert p0.latency_s <= dl
    c.observe(latency_s=p0.latency_s * 2.0)  # hardware is 2x slower than modelled
    assert c.latency_scale == pytest.approx(2.0)
    p1 = c.select(deadline_s=dl, now_s=1)
    assert p1 != p0 and p1.latency_s * 2.0 <= dl
    # budget policy ignores measurements (open loop)
    b = Controller(table)
    q0 = b.select(deadline_s=dl, now_s=0)
    b.observe(latency_s=q0.latency_s * 2.0)
    assert b.select(deadline_s=dl, now_s=1) == q0


def test_feedback_median_converges(table):
    c = Controller(table, "feedback", feedback_window=3)
    c.select()
    for _ in range(30):
        c.observe(latency_s=c.current.latency_s * 1.2, power_w=c.current.avg_power_w * 0.8)
    assert c.latency_scale == pytest.approx(1.2, rel=1e-6)
    assert c.power_scale == pytest.approx(0.8, rel=1e-6)


def test_rate_and_queueing_aware_deadline(table):
    c = Controller(table)
    # alone a 4 ms point meets a 5 ms deadline; at 200 Hz its 99 % response time does not
    p = c.select(deadline_s=5e-3, power_w=0.08)
    assert p.latency_s == pytest.approx(4e-3)
    q = c.select(deadline_s=5e-3, power_w=0.08, rate_hz=200.0)
    assert q.latency_s < 4e-3
    rho = q.latency_s * 200
    assert q.latency_s * (1 + math.log(rho / 0.01) / (2 * (1 - rho))) <= 5e-3
    # a point that cannot keep up with the rate is infeasible
    d = c.decide(Budget(rate_hz=1e9))
    assert not d.feasible and "rate_hz" in d.violated


def test_switch_cost_counts_woken_subarrays(table):
    c = Controller(table, switch_energy_j=1e-6, switch_latency_s=1e-6, wake_energy_j=1e-8,
                   wake_latency_s=0.0)
    a16 = next(p for p in table if p.active_subarrays == 16)
    a64 = next(p for p in table if p.active_subarrays == 64)
    assert c.switch_cost(a16, a16) == (0.0, 0.0)
    e, lat = c.switch_cost(a16, a64)
    assert e == pytest.approx(1e-6 + 48 * 1e-8) and lat == pytest.approx(1e-6)
    assert c.switch_cost(a64, a16)[0] == pytest.approx(1e-6)
    assert math.isfinite(e)
