"""Sub-net filtering of a search trajectory. Three rules (``FILTERS``):

* ``local`` (the authors' released code): walking the trajectory from the largest config, a
  sub-net is dropped only when the *next smaller* one is more accurate by less than ``gap``
  (10 points); every other sub-net is kept, so the list may be long (hundreds for ResNet-20);
* ``keep-all``: every distinct config of the trajectory;
* ``pareto`` (dynpim's): the Pareto set over (accuracy up, cost down), then K configs spread
  evenly over the cost range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dynpim.pareto import pareto_mask


def pareto_indices(points: Sequence[Mapping[str, Any]], *, maximize: Sequence[str] = ("accuracy",),
                   minimize: Sequence[str] = ("macs",)) -> list[int]:
    """Indices of the points no other point dominates (at least as good in every objective,
    strictly better in one). Exact duplicates keep their first occurrence. Order preserved."""
    if not points:
        return []
    mask = pareto_mask(maximize=[[float(p[k]) for p in points] for k in maximize],
                       minimize=[[float(p[k]) for p in points] for k in minimize],
                       keep_duplicates=False)
    return [int(i) for i in np.flatnonzero(mask)]


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


FILTERS = ("local", "keep-all", "pareto")


def local_filter(records: Sequence[Mapping[str, Any]], gap: float = 0.10, *,
                 accuracy: str = "accuracy") -> list[int]:
    """Indices kept by the authors' rule, trajectory order (largest first): record ``i`` is
    dropped when record ``i + 1`` (the next smaller) is more accurate by less than ``gap``
    (``0 < acc[i+1] - acc[i] < gap``); the last (smallest) record is always kept."""
    if gap < 0:
        raise ValueError(f"filter gap must be >= 0, got {gap}")
    keep = []
    for i, r in enumerate(records):
        if i + 1 < len(records):
            d = float(records[i + 1][accuracy]) - float(r[accuracy])
            if 0 < d < gap:
                continue
        keep.append(i)
    return keep


def filter_trajectory(records: Sequence[Mapping[str, Any]], rule: str = "pareto", *,
                      k: int = 8, cost: str = "macs", gap: float = 0.10,
                      keep_largest: bool = True) -> list[Mapping[str, Any]]:
    """Apply a filter ``rule`` (see :data:`FILTERS`) to trajectory records (largest first);
    returns the kept records cheapest first, one per distinct config."""
    if rule not in FILTERS:
        raise ValueError(f"filter must be one of {FILTERS}, got {rule!r}")
    if rule == "pareto":
        return filter_configs(records, k, cost=cost, keep_largest=keep_largest)
    idx = range(len(records)) if rule == "keep-all" else local_filter(records, gap)
    seen: dict[str, Mapping[str, Any]] = {}
    for i in idx:
        key = "-".join(str(w) for w in records[i]["config"]) if "config" in records[i] else str(i)
        seen.setdefault(key, records[i])
    return sorted(seen.values(), key=lambda r: (float(r[cost]), float(r.get("macs", 0))))
