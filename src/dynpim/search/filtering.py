"""Sub-net filtering (TNNLS'22): keep the Pareto-optimal configs of a trajectory (accuracy up,
cost down), then pick K of them spread evenly over the cost range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def pareto_indices(points: Sequence[Mapping[str, Any]], *, maximize: Sequence[str] = ("accuracy",),
                   minimize: Sequence[str] = ("macs",)) -> list[int]:
    """Indices of the points no other point dominates (at least as good in every objective,
    strictly better in one). Exact duplicates keep their first occurrence. Order preserved."""
    if not points:
        return []
    cols = [np.asarray([float(p[k]) for p in points]) for k in maximize]
    cols += [-np.asarray([float(p[k]) for p in points]) for k in minimize]
    v = np.stack(cols, axis=1)  # bigger is better in every column
    keep = []
    for i in range(len(v)):
        ge = np.all(v >= v[i], axis=1)
        gt = np.any(v > v[i], axis=1)
        dominated = bool(np.any(ge & gt))
        duplicate = bool(np.any(np.all(v[:i] == v[i], axis=1))) if i else False
        if not dominated and not duplicate:
            keep.append(i)
    return keep


def spread_indices(costs: Sequence[float], k: int, *, log: bool = False) -> list[int]:
    """``k`` indices whose costs are spread over ``[min, max]``: the cheapest and the most
    expensive point always, the rest nearest to evenly spaced targets (log-spaced with ``log``).
    Returns all indices when there are at most ``k``; result sorted by cost."""
    if k < 1:
        raise ValueError(f"number of configs to pick must be >= 1, got {k}")
    c = np.asarray(costs, dtype=np.float64)
    n = len(c)
    order = list(np.argsort(c, kind="stable"))
    if n <= k:
        return [int(i) for i in order]
    if k == 1:
        return [int(order[-1])]
    lo, hi = c[order[0]], c[order[-1]]
    if log and lo > 0:
        targets = np.exp(np.linspace(np.log(lo), np.log(hi), k))
    else:
        targets = np.linspace(lo, hi, k)
    chosen = {int(order[0]), int(order[-1])}
    for t in targets[1:-1]:
        free = [i for i in order if int(i) not in chosen]
        best = min(free, key=lambda i: (abs(c[i] - t), c[i]))
        chosen.add(int(best))
    return sorted(chosen, key=lambda i: (c[i], i))


def filter_configs(records: Sequence[Mapping[str, Any]], k: int = 8, *, cost: str = "macs",
                   log: bool = False, keep_largest: bool = True) -> list[Mapping[str, Any]]:
    """Pareto subset of ``records`` over (accuracy, ``cost``), then ``k`` spread over the cost
    range; returned cheapest first. ``keep_largest`` keeps the most expensive record (the full
    network, the search's start) even when a cheaper one measured as accurate or better, so the
    dynamic network trained from the configs keeps its full width."""
    idx = pareto_indices(records, minimize=(cost,))
    if keep_largest and records:
        top = max(range(len(records)), key=lambda i: (float(records[i][cost]), -i))
        idx = sorted(set(idx) | {top})
    front = [records[i] for i in idx]
    pick = spread_indices([float(r[cost]) for r in front], k, log=log)
    return [front[i] for i in pick]
