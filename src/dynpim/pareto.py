"""Pareto dominance, decided in one place: :func:`pareto_mask`. The report's figures, the
search's ``pareto`` filter and the operating table's Pareto set all call it. numpy only (no
torch), imported by ``report``, ``runtime`` and ``search`` (tests/test_layering.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def pareto_mask(maximize: Sequence[ArrayLike] = (), minimize: Sequence[ArrayLike] = (), *,
                keep_duplicates: bool = True) -> np.ndarray:
    """Boolean mask of the points no other point dominates.

    ``maximize`` / ``minimize``: one array per objective, each holding one value per point.
    Point ``q`` dominates ``p`` when it is at least as good in every objective and strictly
    better in one. Ties: points equal in every objective never dominate each other, so all of
    them are kept; with ``keep_duplicates=False`` only the first of them is. NaN compares false
    (a point with a NaN objective neither dominates nor is dominated through it)."""
    cols = [np.asarray(c, dtype=np.float64) for c in maximize]
    cols += [-np.asarray(c, dtype=np.float64) for c in minimize]
    if not cols:
        raise ValueError("pareto_mask needs at least one objective")
    v = np.stack(cols, axis=1)  # (points, objectives), bigger is better in every column
    keep = np.ones(len(v), dtype=bool)
    for i in range(len(v)):
        dominated = np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1)
        duplicate = not keep_duplicates and bool(np.any(np.all(v[:i] == v[i], axis=1)))
        keep[i] = not (dominated.any() or duplicate)
    return keep
