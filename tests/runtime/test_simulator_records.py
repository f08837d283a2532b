"""The simulator's outputs are byte-identical to those captured before its refactor into an
event-loop class with typed records (issue 19), and the records round-trip through dicts."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys

import pytest

from dynpim.runtime import (
    Request,
    SimDecision,
    Summary,
    Window,
    best_static,
    compare,
    compare_runs,
    parse_spec,
    simulate,
)
from dynpim.runtime.records import kind_of

sys.path.insert(0, os.path.dirname(__file__))
from golden_simulator import GOLDEN, digests, make_table  # noqa: E402


def test_outputs_are_byte_identical_to_the_captured_ones() -> None:
    with open(GOLDEN) as f:
        want = json.load(f)
    assert digests() == want

WALK = "walk:duration_s=3,rate_hz=400,min_w=0.02,max_w=0.4,sigma_w=0.05,seed=2"


@pytest.fixture(scope="module")
def run():
    tr = parse_spec(WALK)
    return simulate(make_table(), tr, queue_limit=2, deadline_s=5e-3, seed=3, drop_expired=True,
                    actual_latency_scale=1.5, keep_requests=True)


def test_records_round_trip_through_their_dicts(run) -> None:
    s = run.summary_record
    assert Summary.from_dict(s.to_dict()) == s
    assert Summary.from_dict(dict(s.to_dict())) == s  # a plain dict: kind "dynamic" as here
    statuses = {r.status for r in run.request_records}
    assert {"served", "dropped_queue"} <= statuses  # both shapes of row are exercised
    for r in run.request_records:
        assert Request.from_dict(r.to_dict()) == r
        assert r.served == (r.status == "served")
        assert (r.start_s is None) == (not r.served)
    starved = simulate(make_table(), parse_spec("ramp:duration_s=1,start_w=0.001,rate_hz=50"))
    decisions = run.decision_records + starved.decision_records
    assert len(run.decision_records) > 1 and any(d.violated for d in decisions)
    assert not all(d.feasible for d in decisions)
    for d in decisions:
        assert SimDecision.from_dict(d.to_dict()) == d
    windows = run.window_records
    assert [w.to_dict() for w in windows] == run.windows
    for w in windows:
        back = Window.from_dict(w.to_dict())
        if w.served:
            assert back == w
        else:  # mean accuracy NaN: equal field by field, NaN for NaN
            assert math.isnan(back.mean_accuracy) and back.t_start_s == w.t_start_s


def test_dict_views_are_the_records_dicts(run) -> None:
    assert run.requests == [r.to_dict() for r in run.request_records]
    assert run.decisions == [d.to_dict() for d in run.decision_records]
    assert run.decision_rows == [tuple(d.to_dict().values()) for d in run.decision_records]
    assert run.summary == run.summary_record.to_dict() and type(run.summary) is dict
    assert run.summary is run.summary  # one dict, like the attribute it used to be
    assert json.loads(json.dumps(run.summary)) == dict(run.summary)
    dropped = next(r for r in run.request_records if not r.served).to_dict()
    assert dropped["start_s"] == "" and dropped["status"].startswith("dropped_")


def test_records_are_frozen(run) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.summary_record.switches = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.request_records[0].status = "served"  # type: ignore[misc]


def test_static_runs_carry_their_kind_not_a_parsed_name(table) -> None:
    tr = parse_spec("ramp:duration_s=2,start_w=0.4,end_w=0.04,rate_hz=100")
    runs = compare_runs(table, tr, policies=("budget",), seed=1)
    assert [r.kind for r in runs] == ["dynamic"] + ["static"] * len(table)
    assert [r.point for r in runs[1:]] == [p.label for p in table]
    rows = compare(table, tr, policies=("budget",), seed=1)
    assert [kind_of(r) for r in rows] == [r.kind for r in runs]
    assert [Summary.from_dict(r) for r in rows] == runs  # kind and point are columns
    # rows read back from comparison.json still know their kind
    assert [kind_of(r) for r in json.loads(json.dumps(rows))] == [r.kind for r in runs]
    # the kind, not the display name, decides: renamed rows are still found
    renamed = [dataclasses.replace(r, name=f"run {i}") for i, r in enumerate(runs)]
    best = best_static(renamed)
    assert best is not None and best.kind == "static"
    assert best.point == best_static(json.loads(json.dumps(rows)))["point"]  # type: ignore[index]
    assert best_static(runs[:1]) is None
    # a summary.json written before the kind column reads as a dynamic run
    old = [{k: v for k, v in r.items() if k not in ("kind", "point")} for r in rows]
    assert best_static(old) is None and Summary.from_dict(old[1]).kind == "dynamic"
    with pytest.raises(ValueError, match="point"):
        dataclasses.replace(runs[0], kind="static")
    with pytest.raises(ValueError, match="kind"):
        dataclasses.replace(runs[0], kind="fixed")  # type: ignore[arg-type]


def test_summary_counts_which_knob_each_switch_moved() -> None:
    """A cap that steps down twice: first only the precision can move (same sub-net and
    sub-arrays, 4/4 instead of 8/8), then the sub-net and the powered sub-arrays."""
    from dynpim.nn import SubnetConfig
    from dynpim.runtime import OperatingPoint, OperatingTable, generate, simulate
    from dynpim.runtime.records import KNOBS, Summary
    from dynpim.runtime.simulator import knobs_moved
    from dynpim.runtime.traces import Trace

    wide, narrow = SubnetConfig([8, 8, 8]), SubnetConfig([4, 4, 4])
    a = OperatingPoint(wide, 64, 0.90, 1e-3, 1e-3 * 1.0, 1.0, bits=(8, 8))
    b = OperatingPoint(wide, 64, 0.85, 1e-3, 1e-3 * 0.6, 0.6, bits=(4, 4))
    c = OperatingPoint(narrow, 16, 0.70, 1e-3, 1e-3 * 0.2, 0.2, bits=(4, 4))
    table = OperatingTable.from_points([a, b, c], {"model": {"name": "toy", "args": {}}})
    assert knobs_moved(a, b) == ("precision",)
    assert knobs_moved(b, c) == ("width", "subarrays")
    assert knobs_moved(a, c) == KNOBS
    step = generate("step", duration_s=2.0, dt_s=0.5, rate_hz=50.0, start_w=1.1, end_w=0.7,
                    at_s=0.5)
    cap = step.power_cap_w.copy()
    cap[step.time_s >= 1.0] = 0.3  # second step down
    trace = Trace(step.time_s, cap, step.arrival_rate_hz, name="two steps")
    s = simulate(table, trace, policy="budget", seed=0, arrivals="deterministic",
                 min_dwell_s=0.0)
    assert s.summary["switches"] == 2
    assert s.summary["switches_by_knob"] == {"width": 1, "precision": 1, "subarrays": 1}
    assert Summary.from_dict(s.summary).switches_by_knob == s.summary["switches_by_knob"]
