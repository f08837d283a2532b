"""The feedback controller survives sensor glitches (issue 20, item 3)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.nn import SubnetConfig
from dynpim.runtime import Controller, OperatingPoint, OperatingTable
from dynpim.runtime.controller import DEFAULT_MARGIN, DEFAULT_MIN_DWELL_S, Budget


def make_table() -> OperatingTable:
    """The toy table of conftest.py: wider is more accurate and costlier."""
    pts = []
    for i in range(1, 5):
        r = i / 4
        for a in (16, 64):
            lat = 1e-3 * r * r * 64 / a
            pw = 0.05 * a / 16 * (0.5 + r)
            pts.append(OperatingPoint(SubnetConfig([4 * i] * 3), a, 0.6 + 0.3 * r, lat,
                                      lat * pw, pw))
    return OperatingTable.from_points(pts, {"model": {"name": "toy", "args": {}}})


TABLE = make_table()
POWERS = sorted({p.avg_power_w for p in TABLE})


def cap_between(i: int) -> float:
    """A cap strictly between the i-th and (i+1)-th distinct point power."""
    return (POWERS[i] + POWERS[i + 1]) / 2


def open_loop(cap: float) -> object:
    return Controller(TABLE, margin=0.0, min_dwell_s=0.0).select(power_w=cap, now_s=0.0)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 0.0, -0.01, np.float32("nan")])
def test_non_finite_or_non_positive_reading_is_rejected_and_counted(bad, caplog) -> None:
    c = Controller(TABLE, "feedback", margin=0.0, min_dwell_s=0.0)
    cap = cap_between(2)
    c.select(power_w=cap, now_s=0.0)
    with caplog.at_level(logging.WARNING, logger="dynpim.runtime"):
        assert c.observe(power_w=bad) is False
    assert c.rejected_readings == 1 and "rejected power_w reading" in caplog.text
    assert c.power_scale == 1.0
    d = c.decide(Budget(power_w=cap), 1.0)
    assert d.feasible and d.point == open_loop(cap)


def test_issue_20_inf_reading_no_longer_poisons() -> None:
    """Issue 20: one observe(power_w=inf) made every later decision infeasible."""
    c = Controller(TABLE, "feedback", margin=0.0, min_dwell_s=0.0)
    cap = cap_between(1)
    c.select(power_w=cap, now_s=0.0)
    c.observe(power_w=math.inf)
    for k in range(5):
        p = c.select(power_w=cap, now_s=k + 1.0)
        assert c.last_decision.feasible and p.avg_power_w <= cap
        c.observe(power_w=p.avg_power_w)


def test_huge_reading_is_clamped_and_forgotten_after_exact_ones() -> None:
    c = Controller(TABLE, "feedback", margin=0.0, min_dwell_s=0.0, feedback_window=5,
                   max_correction=8.0)
    cap = cap_between(3)
    c.select(power_w=cap, now_s=0.0)
    assert c.observe(power_w=1e300) is True
    assert c.clamped_readings == 1 and c.power_scale == 8.0  # broke the cap: jumps at once
    stepped = c.select(power_w=cap, now_s=1.0)
    assert stepped.avg_power_w * 8.0 <= cap or stepped == TABLE.cheapest()
    for _ in range(5):
        c.observe(power_w=c.current.avg_power_w)
    assert c.power_scale == 1.0
    assert c.select(power_w=cap, now_s=2.0) == open_loop(cap)


def test_reading_of_the_wrong_type_raises() -> None:
    c = Controller(TABLE, "feedback")
    c.select(now_s=0.0)
    with pytest.raises(ValueError, match="power_w must be a number or None, got '0.1'"):
        c.observe(power_w="0.1")


def test_numpy_scalars_are_numbers() -> None:
    """Issue 20: numpy float32 budgets were rejected with a self-contradictory message."""
    c = Controller(TABLE, margin=np.float64(0.0), min_dwell_s=np.float32(0.0))
    cap = cap_between(2)
    assert c.select(power_w=np.float32(cap), now_s=np.float64(0.0)) == open_loop(np.float32(cap))
    b = Budget(power_w=np.float32(0.5), deadline_s=np.int64(1))
    assert type(b.power_w) is float and b.deadline_s == 1.0


def test_hysteresis_is_on_by_default() -> None:
    c = Controller(TABLE)
    assert (c.margin, c.min_dwell_s) == (DEFAULT_MARGIN, DEFAULT_MIN_DWELL_S) == (0.05, 0.1)
    rng = np.random.default_rng(0)
    boundary = POWERS[3]
    caps = boundary * (1 + 0.03 * rng.uniform(-1, 1, 2000))  # +-3 % wobble, 20 s
    for k, cap in enumerate(caps):
        c.select(power_w=cap, now_s=k * 0.01)
    assert c.switches <= 2


readings = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                     st.floats(min_value=1e-12, max_value=1e12))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(readings, readings, st.integers(0, len(POWERS) - 2)), max_size=20),
       st.lists(st.integers(0, len(POWERS) - 2), min_size=1, max_size=5))
def test_recovers_to_open_loop_after_exact_readings(glitches, caps) -> None:
    window = 5
    c = Controller(TABLE, "feedback", margin=0.0, min_dwell_s=0.0, feedback_window=window)
    t = 0.0
    for lat, pw, i in glitches:
        c.select(power_w=cap_between(i), now_s=t)
        c.observe(latency_s=lat, power_w=pw)
        t += 1.0
    for _ in range(window):  # exact readings of whatever point is in use
        c.select(power_w=cap_between(caps[0]), now_s=t)
        c.observe(latency_s=c.current.latency_s, power_w=c.current.avg_power_w)
        t += 1.0
    assert (c.latency_scale, c.power_scale) == (1.0, 1.0)
    for i in caps:
        d = c.decide(Budget(power_w=cap_between(i)), t)
        assert d.point == open_loop(cap_between(i)) and d.feasible
        c.observe(latency_s=d.point.latency_s, power_w=d.point.avg_power_w)
        t += 1.0
