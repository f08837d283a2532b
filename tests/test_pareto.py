"""One Pareto rule (dynpim.pareto.pareto_mask) behind the report's figures, the search's
``pareto`` filter and the operating table's Pareto set: same answers as the three rules it
replaced, ties included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.pareto import pareto_mask
from dynpim.report import pareto_mask as report_mask
from dynpim.search import pareto_indices


def _old_report(cost, acc):
    c, a = np.asarray(cost, float), np.asarray(acc, float)
    keep = np.ones(len(c), bool)
    for i in range(len(c)):
        keep[i] = not ((c <= c[i]) & (a >= a[i]) & ((c < c[i]) | (a > a[i]))).any()
    return keep


def _old_indices(acc, cost):
    v = np.stack([np.asarray(acc, float), -np.asarray(cost, float)], axis=1)
    keep = []
    for i in range(len(v)):
        dominated = bool(np.any(np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1)))
        duplicate = bool(np.any(np.all(v[:i] == v[i], axis=1))) if i else False
        if not dominated and not duplicate:
            keep.append(i)
    return keep


def _old_table(rows):  # (accuracy, latency, power, energy) tuples, python comparisons
    def dom(a, b):
        ge = a[0] >= b[0] and a[1] <= b[1] and a[2] <= b[2] and a[3] <= b[3]
        gt = a[0] > b[0] or a[1] < b[1] or a[2] < b[2] or a[3] < b[3]
        return ge and gt
    return [not any(dom(q, p) for q in rows) for p in rows]


def test_ties_all_kept_or_only_the_first():
    cost = [1.0, 1.0, 2.0, 0.5, 2.0]
    acc = [0.9, 0.9, 0.9, 0.5, 0.95]
    assert pareto_mask([acc], [cost]).tolist() == [True, True, False, True, True]
    assert pareto_mask([acc], [cost], keep_duplicates=False).tolist() == [True, False, False,
                                                                           True, True]
    # equal in one objective, worse in the other: dominated
    assert pareto_mask([[1.0, 1.0]], [[1.0, 2.0]]).tolist() == [True, False]
    assert pareto_mask([[np.nan, 1.0]], [[1.0, 1.0]]).tolist() == [True, True]
    with pytest.raises(ValueError, match="at least one objective"):
        pareto_mask()


values = st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, float("inf"), float("nan")]),
                  min_size=4, max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=0, max_size=12))
def test_same_answers_as_the_three_rules_it_replaced(rows):
    acc = [r[0] for r in rows]
    cost = [r[1] for r in rows]
    if rows:
        assert report_mask(cost, acc).tolist() == _old_report(cost, acc).tolist()
        assert pareto_mask([acc], [[r[1] for r in rows], [r[2] for r in rows],
                                   [r[3] for r in rows]]).tolist() == _old_table(rows)
    pts = [{"accuracy": a, "macs": c} for a, c in zip(acc, cost)]
    assert pareto_indices(pts) == _old_indices(acc, cost)
