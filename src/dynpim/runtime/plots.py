"""PNG plots of a simulation: power budget vs consumed power, chosen point, accuracy over time.

Figures come from :func:`dynpim.figures.subplots` (no pyplot, no backend chosen or changed);
matplotlib is imported only when a figure is made, so importing ``dynpim.runtime`` has no
plotting side effects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dynpim.figures import subplots

from .records import Summary, kind_of
from .simulator import SimResult


def plot_simulation(result: SimResult, path: str | os.PathLike[str], title: str = "") -> str:
    """Three stacked panels over time: cap and window-averaged power (W); the chosen operating
    point (table index, from the decisions); the mean accuracy served per window."""
    w = result.window_columns
    t = w["t_start_s"]
    fig, ax = subplots(3, 1, figsize=(9, 7.5), sharex=True)
    ax[0].step(t, w["power_cap_w"], where="post", label="power cap (window mean)")
    ax[0].step(t, w["power_w"], where="post", label="consumed (window mean)")
    bad = w["violation"].astype(bool)
    if bad.any():
        ax[0].plot(t[bad], w["power_w"][bad], "rx", label="cap violation")
    ax[0].set_ylabel("power (W)")
    ax[0].legend(loc="upper right", fontsize=8)
    dec = result.decision_records  # one per change
    if dec:
        end = float(w["t_end_s"][-1])
        ax[1].step([d.time_s for d in dec] + [end],
                   [d.point_index for d in dec] + [dec[-1].point_index], where="post")
    ax[1].set_ylabel("operating point (table index)")
    # accuracy per window (mean over requests started in it)
    has = w["served"] > 0
    ax[2].step(t[has], w["mean_accuracy"][has], where="post")
    ax[2].set_ylabel("accuracy served")
    ax[2].set_xlabel("time (s)")
    s = result.summary_record
    fig.suptitle(title or f"{s.name}: mean acc. {s.mean_accuracy_served:.4f}, "
                 f"{s.cap_violations} cap-violation windows, {s.switches} switches")
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    return path


def plot_comparison(rows: Sequence[Summary | Mapping[str, Any]],
                    path: str | os.PathLike[str]) -> str:
    """Mean accuracy served vs cap-violation windows for each policy (dynamic run) and static
    point; ``rows``: :class:`Summary` records or their dicts (:func:`compare`)."""
    fig, ax = subplots(figsize=(7, 4.5))
    for row in rows:
        dyn = kind_of(row) == "dynamic"
        r = row.to_dict() if isinstance(row, Summary) else row
        ax.scatter(r["cap_violations"], r["effective_accuracy"], marker="*" if dyn else "o",
                   s=120 if dyn else 30, label=r["name"] if dyn else None)
    ax.set_xlabel("cap-violation windows")
    ax.set_ylabel("effective accuracy (on-time served / arrived)")
    ax.legend(fontsize=8)
    ax.set_title("dynamic policies (stars) vs static points (dots)")
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    return path
