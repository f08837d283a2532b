"""The streaming simulator gives the results of the implementation it replaced (kept in
reference_simulator.py) on small traces, and keeps no per-request rows unless asked (issue 20,
item 5)."""

from __future__ import annotations

import math
import os
import sys

import pytest

from dynpim.runtime import parse_spec, simulate
from dynpim.runtime.traces import Trace

sys.path.insert(0, os.path.dirname(__file__))
from reference_simulator import simulate as reference  # noqa: E402

CASES = [
    ("walk:duration_s=3,rate_hz=400,min_w=0.02,max_w=0.4,sigma_w=0.05,seed=2",
     dict(queue_limit=2, deadline_s=5e-3, seed=3, drop_expired=True, actual_latency_scale=1.5)),
    ("walk:duration_s=3,rate_hz=400,min_w=0.02,max_w=0.4,sigma_w=0.05,seed=2",
     dict(policy="feedback", queue_limit=None, deadline_s=5e-3, actual_power_scale=1.3)),
    ("ramp:duration_s=4,start_w=0.4,end_w=0.01,rate_hz=100",
     dict(arrivals="deterministic", idle_power_w=0.01, switch_energy_j=1e-6,
          switch_latency_s=1e-4, margin=0.0, min_dwell_s=0.0)),
    ("sine:duration_s=2,rate_hz=300,mean_w=0.2,amplitude_w=0.15,period_s=1",
     dict(idle_power_w=0.01, switch_energy_j=1e-6, window_s=0.05, min_accuracy=0.8)),
    ("step:duration_s=4,start_w=0.3,end_w=0.02,rate_hz=200",
     dict(policy="feedback", deadline_s=3e-3, actual_latency_scale=2.0, rate_aware=False,
          cap_mode="average")),
    ("battery:duration_s=3,capacity_j=0.05,rate_hz=200",
     dict(idle_power_w=0.005, queue_limit=0)),
]


def _same(a, b, where: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-15) or (math.isnan(a) and math.isnan(b)),\
            where
    else:
        assert a == b, where


@pytest.mark.parametrize("spec,kw", CASES, ids=[c[0].split(":")[0] + str(i)
                                                for i, c in enumerate(CASES)])
def test_same_results_as_the_implementation_it_replaced(table, spec, kw) -> None:
    tr = parse_spec(spec)
    old = reference(table, tr, **kw)
    new = simulate(table, tr, keep_requests=True, **kw)
    # the summary gained switches_by_knob, kind and point after the reference was written
    assert new.summary.keys() - {"switches_by_knob", "kind", "point"} == old.summary.keys()
    assert sum(new.summary["switches_by_knob"].values()) >= new.summary["switches"]
    for k in old.summary:
        _same(new.summary[k], old.summary[k], k)
    assert new.requests == old.requests
    assert new.decisions == old.decisions
    assert len(new.windows) == len(old.windows)
    for nw, ow in zip(new.windows, old.windows):
        for k in ow:
            _same(nw[k], ow[k], f"window {ow['t_start_s']} {k}")


def test_deadline_column_trace(table) -> None:
    import numpy as np

    t = np.linspace(0, 2, 21)
    tr = Trace(t, np.where(t < 1, 0.3, 0.05), np.full(21, 150.0),
               deadline_s=np.where(t < 1.5, 4e-3, 2e-3), name="dl")
    old = reference(table, tr, seed=4)
    new = simulate(table, tr, seed=4, keep_requests=True)
    assert new.requests == old.requests and new.decisions == old.decisions
    assert new.summary["deadline_misses"] == old.summary["deadline_misses"]


def test_requests_are_not_kept_unless_asked(table) -> None:
    tr = parse_spec("ramp:duration_s=2,start_w=0.4,end_w=0.05,rate_hz=100")
    res = simulate(table, tr)
    assert res.requests == [] and res.summary["requests_arrived"] > 100
    seen = []
    res2 = simulate(table, tr, request_sink=seen.append)
    assert res2.requests == [] and len(seen) == res.summary["requests_arrived"]
    assert sorted(r["request"] for r in seen) == list(range(len(seen)))
    assert res2.summary == res.summary
