"""The one plotting helper: matplotlib ``Figure`` objects made without pyplot, so no backend is
chosen or changed (notebooks keep their inline figures) and ``fig.savefig`` renders with Agg by
itself. matplotlib is imported only when a figure is made. Used by ``report`` and ``runtime``
(a leaf of the import table, tests/test_layering.py)."""

from __future__ import annotations

from typing import Any


def subplots(*args: Any, figsize: tuple[float, float] | None = None, **kwargs: Any) -> Any:
    """``(fig, axes)`` like ``pyplot.subplots(*args, figsize=..., **kwargs)``, the figure not
    registered with pyplot (nothing to close)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)
