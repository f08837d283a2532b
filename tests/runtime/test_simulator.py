import json

import numpy as np
import pytest

from dynpim.runtime import (
    arrival_times,
    best_static,
    compare,
    comparison_markdown,
    generate,
    parse_spec,
    simulate,
)


def test_deterministic_arrivals_follow_the_rate():
    t = generate("step", duration_s=2, dt_s=0.5, start_w=1, end_w=1, rate_hz=10)
    a = arrival_times(t, "deterministic")
    assert len(a) == 20 and np.allclose(np.diff(a), 0.1)
    t2 = generate("ramp", duration_s=4, dt_s=1, rate_hz=0)
    assert len(arrival_times(t2, "poisson")) == 0


def test_poisson_arrivals_seeded():
    t = generate("ramp", duration_s=20, rate_hz=50)
    a, b = arrival_times(t, "poisson", 1), arrival_times(t, "poisson", 1)
    assert np.array_equal(a, b) and np.all(np.diff(a) >= 0)
    assert abs(len(a) - 1000) < 5 * np.sqrt(1000)
    assert a.min() >= 0 and a.max() < 20
    with pytest.raises(ValueError, match="arrivals"):
        arrival_times(t, "bursty")


@pytest.mark.parametrize("policy", ["budget", "feedback"])
@pytest.mark.parametrize("queue_limit", [0, 2, None])
def test_requests_are_conserved(table, policy, queue_limit):
    tr = parse_spec("walk:duration_s=3,rate_hz=400,min_w=0.02,max_w=0.4,sigma_w=0.05,seed=2")
    r = simulate(table, tr, policy=policy, queue_limit=queue_limit, deadline_s=5e-3, seed=3,
                 drop_expired=True, actual_latency_scale=1.5, keep_requests=True)
    s = r.summary
    assert s["requests_served"] + s["requests_dropped"] == s["requests_arrived"] == len(r.requests)
    assert s["requests_dropped"] == sum(s["dropped_by_reason"].values())
    assert all(row["status"] for row in r.requests)
    if queue_limit is None:
        assert "dropped_queue" not in s["dropped_by_reason"]
    # FIFO, one at a time: services never overlap
    served = sorted((row for row in r.requests if row["status"] == "served"),
                    key=lambda row: row["start_s"])
    for a, b in zip(served, served[1:]):
        assert b["start_s"] >= a["finish_s"] - 1e-12


def test_window_energy_adds_up(table):
    tr = parse_spec("sine:duration_s=2,rate_hz=300,mean_w=0.2,amplitude_w=0.15,period_s=1")
    r = simulate(table, tr, idle_power_w=0.01, switch_energy_j=1e-6)
    s = r.summary
    assert sum(w["energy_j"] for w in r.windows) == pytest.approx(s["total_energy_j"])
    assert s["total_energy_j"] == pytest.approx(
        s["inference_energy_j"] + s["switch_energy_j"] + s["idle_energy_j"])
    assert s["switch_energy_j"] == pytest.approx(1e-6 * s["switches"])
    assert s["switches"] > 0 and s["idle_energy_j"] > 0


@pytest.mark.parametrize("idle_w", [0.0, 0.02])
def test_battery_never_exceeds_capacity(table, idle_w):
    tr = parse_spec("battery:duration_s=5,capacity_j=0.05,cap_w=1,rate_hz=300")
    r = simulate(table, tr, idle_power_w=idle_w)
    s = r.summary
    assert s["total_energy_j"] <= 0.05 + 1e-12
    assert s["battery_remaining_j"] == pytest.approx(0.05 - s["total_energy_j"], abs=1e-12)
    assert s["requests_served"] + s["requests_dropped"] == s["requests_arrived"]
    # the cap follows the remaining charge: the controller steps down from the widest point
    assert s["point_usage"].keys() != {table.most_accurate().label}
    # a static widest point simply runs the battery flat and drops the rest
    st = simulate(table.subset([table.most_accurate()]), tr, idle_power_w=idle_w).summary
    assert st["total_energy_j"] <= 0.05 + 1e-12 and st["dropped_by_reason"].get("dropped_battery")
    assert s["requests_served"] > st["requests_served"]


def test_dynamic_beats_every_static_point_within_the_cap(table):
    tr = parse_spec("ramp:duration_s=6,start_w=0.4,end_w=0.04,rate_hz=100")
    rows = compare(table, tr, seed=1)
    dyn = {r["name"]: r for r in rows}["dynamic:budget"]
    assert dyn["inferences_over_cap"] == 0 and dyn["cap_violations"] == 0
    statics = [r for r in rows if r["kind"] == "static"]
    assert len(statics) == len(table)
    safe = [r for r in statics if r["inferences_over_cap"] == 0]
    assert safe and all(dyn["mean_accuracy_served"] > r["mean_accuracy_served"] for r in safe)
    assert best_static(rows)["cap_violations"] == 0
    md = comparison_markdown(rows)
    assert md.count("\n") == len(rows) + 1 and "dynamic:budget" in md
    assert "effective acc. % (unknown)" in md and "(test)" not in md
    assert f"| {100 * dyn['effective_accuracy']:.2f} |" in md


def test_feedback_fixes_a_wrong_latency_model(table):
    tr = parse_spec("step:duration_s=4,start_w=0.1,end_w=0.1,rate_hz=50")
    kw = dict(deadline_s=3e-3, actual_latency_scale=2.0, arrivals="deterministic",
              rate_aware=False)
    b = simulate(table, tr, policy="budget", **kw).summary
    f = simulate(table, tr, policy="feedback", **kw).summary
    assert b["deadline_misses"] > 100
    assert f["deadline_misses"] <= 3
    assert f["mean_accuracy_served"] < b["mean_accuracy_served"]


def test_hysteresis_bounds_switches_in_simulation(table):
    tr = parse_spec("walk:duration_s=10,rate_hz=200,min_w=0.07,max_w=0.08,sigma_w=0.004,seed=5")
    plain = simulate(table, tr, margin=0.0, min_dwell_s=0.0).summary
    hyst = simulate(table, tr, margin=0.2, min_dwell_s=1.0).summary
    assert hyst["switches"] <= 2 * (10 / 1.0 + 1)
    assert hyst["switches"] < plain["switches"]


def test_write_outputs(tmp_path, table):
    tr = parse_spec("ramp:duration_s=1,rate_hz=50")
    r = simulate(table, tr, keep_requests=True)
    paths = r.write(tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["requests_arrived"] == r.summary["requests_arrived"]
    header = (tmp_path / "timeline.csv").read_text().splitlines()[0]
    assert header.startswith("request,arrival_s,start_s,finish_s,status")
    assert set(paths) == {"timeline", "windows", "decisions", "summary"}


def test_bad_simulation_arguments(table):
    tr = parse_spec("ramp:duration_s=1")
    with pytest.raises(ValueError, match="queue_limit"):
        simulate(table, tr, queue_limit=-1)
    with pytest.raises(ValueError, match="deadline_s"):
        simulate(table, tr, deadline_s=0)
    with pytest.raises(ValueError, match="actual_latency_scale"):
        simulate(table, tr, actual_latency_scale=0)
    with pytest.raises(ValueError, match="policy"):
        simulate(table, tr, policy="nope")


def test_test_accuracy_is_reported_not_selected(table):
    from dataclasses import replace

    from dynpim.runtime import OperatingTable

    tr = parse_spec("walk:duration_s=2,rate_hz=300,min_w=0.02,max_w=0.4,sigma_w=0.05,seed=4")
    plain = simulate(table, tr, seed=1, deadline_s=5e-3)
    assert plain.summary["accuracy_split"] == "unknown"
    assert "effective_accuracy_test" not in plain.summary
    # test accuracies that reverse the ranking: the controller's choices must not change
    pts = [replace(p, test_accuracy=1.0 - p.accuracy) for p in table]
    t2 = OperatingTable(pts, {**table.meta, "accuracy_split": "validation"})
    r = simulate(t2, tr, seed=1, deadline_s=5e-3, keep_requests=True)
    assert [d["point_index"] for d in r.decisions] == [d["point_index"] for d in plain.decisions]
    s = r.summary
    assert s["accuracy_split"] == "validation"
    assert s["effective_accuracy"] == plain.summary["effective_accuracy"]
    on_time = [q for q in r.requests if q["status"] == "served" and not q["missed"]]
    want = sum(pts[q["point_index"]].test_accuracy for q in on_time) / len(r.requests)
    assert s["effective_accuracy_test"] == pytest.approx(want, rel=1e-12)
    assert s["best_point_accuracy_test"] == max(p.test_accuracy for p in pts)
    assert s["effective_accuracy_test"] <= s["best_point_accuracy_test"]
    md = comparison_markdown([s])
    assert "effective acc. % (validation)" in md and "effective acc. % (test)" in md
    assert f"| {100 * s['effective_accuracy_test']:.2f} |" in md
    back = OperatingTable.from_dict(t2.to_dict())
    assert back.test_accuracies() == [p.test_accuracy for p in pts]
    with pytest.raises(ValueError, match="test_accuracy"):
        replace(pts[0], test_accuracy=1.5)


def test_comparison_markdown_uses_engineering_units():
    row = {"name": "dynamic:budget", "requests_served": 3, "requests_arrived": 4,
           "mean_accuracy_served": 0.9, "effective_accuracy": 0.675, "total_energy_j": 1.2e-4,
           "energy_per_inference_j": 4.0e-5, "deadline_misses": 0, "cap_violations": 0,
           "windows": 10, "inferences_over_cap": 1, "switches": 2}
    md = comparison_markdown([row])
    assert "| energy (mJ) | energy/inference (µJ) |" in md
    assert "| 90.00 | 67.50 | 0.120 | 40.000 |" in md and "e-0" not in md
