import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.search import filter_configs, pareto_indices, spread_indices


def _dominated(p, q):
    """q dominates p (accuracy up, cost down)."""
    return (q["accuracy"] >= p["accuracy"] and q["macs"] <= p["macs"]
            and (q["accuracy"] > p["accuracy"] or q["macs"] < p["macs"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 20)), min_size=1, max_size=30))
def test_pareto_returns_exactly_the_non_dominated(pairs):
    pts = [{"accuracy": a / 20, "macs": c} for a, c in pairs]
    keep = pareto_indices(pts)
    for i in keep:
        assert not any(_dominated(pts[i], q) for q in pts)
    for i, p in enumerate(pts):
        if i not in keep:  # dropped: dominated, or a duplicate of a kept point
            assert any(_dominated(p, q) for q in pts) or any(
                pts[j] == p for j in keep if j < i)


def test_pareto_of_a_trajectory_drops_worse_larger_configs():
    traj = [{"accuracy": 0.90, "macs": 100}, {"accuracy": 0.91, "macs": 90},
            {"accuracy": 0.85, "macs": 80}, {"accuracy": 0.86, "macs": 70},
            {"accuracy": 0.50, "macs": 10}]
    assert pareto_indices(traj) == [1, 3, 4]
    picked = filter_configs(traj, k=8)
    assert [p["macs"] for p in picked] == [10, 70, 90, 100]  # the largest is kept by default
    assert [p["macs"] for p in filter_configs(traj, k=8, keep_largest=False)] == [10, 70, 90]


def test_spread_indices_covers_the_range():
    costs = np.linspace(1, 100, 40)
    pick = spread_indices(costs, 5)
    assert len(pick) == 5 and pick[0] == 0 and pick[-1] == 39
    assert np.allclose(costs[pick], np.linspace(1, 100, 5), atol=100 / 39)
    assert spread_indices([3.0, 1.0, 2.0], 8) == [1, 2, 0]
    assert len(spread_indices(np.geomspace(1, 1000, 50), 4, log=True)) == 4
    with pytest.raises(ValueError, match=">= 1"):
        spread_indices(costs, 0)


def test_filter_configs_returns_non_dominated_spread():
    rng = np.random.default_rng(0)
    cost = np.sort(rng.uniform(1, 100, 60))[::-1]
    acc = np.clip(np.sort(rng.uniform(0.3, 0.9, 60))[::-1] + rng.normal(0, 0.02, 60), 0, 1)
    traj = [{"accuracy": float(a), "energy_j": float(c)} for a, c in zip(acc, cost)]
    picked = filter_configs(traj, k=8, cost="energy_j", keep_largest=False)
    assert len(picked) == 8
    for p in picked:
        assert not any(q["accuracy"] >= p["accuracy"] and q["energy_j"] <= p["energy_j"] and
                       (q["accuracy"] > p["accuracy"] or q["energy_j"] < p["energy_j"])
                       for q in traj)
