"""PNG plots of a simulation: power budget vs consumed power, chosen point, accuracy over time.

matplotlib is imported (and the Agg backend selected) only inside the functions, so importing
``dynpim.runtime`` has no plotting side effects.
"""

from __future__ import annotations

import os
from typing import Any

from .simulator import SimResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_simulation(result: SimResult, path: str | os.PathLike[str], title: str = "") -> str:
    """Three stacked panels over time: cap and window-averaged power (W); the chosen operating
    point (table index of each served request); the mean accuracy served per window."""
    plt = _pyplot()
    w = result.windows
    t = [r["t_start_s"] for r in w]
    served = [r for r in result.requests if r["status"] == "served"]
    fig, ax = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    ax[0].step(t, [r["power_cap_w"] for r in w], where="post", label="power cap (window mean)")
    ax[0].step(t, [r["power_w"] for r in w], where="post", label="consumed (window mean)")
    bad = [(r["t_start_s"], r["power_w"]) for r in w if r["violation"]]
    if bad:
        ax[0].plot(*zip(*bad), "rx", label="cap violation")
    ax[0].set_ylabel("power (W)")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[1].plot([r["start_s"] for r in served], [r["point_index"] for r in served], ".",
               markersize=2)
    ax[1].set_ylabel("operating point (table index)")
    # accuracy per window (mean over requests started in it)
    win = result.summary["window_s"]
    t0 = t[0] if t else 0.0
    sums = [0.0] * len(w)
    counts = [0] * len(w)
    for r in served:
        k = min(max(int((r["start_s"] - t0) / win), 0), len(w) - 1)
        sums[k] += r["accuracy"]
        counts[k] += 1
    acc_t = [t[k] for k in range(len(w)) if counts[k]]
    acc = [sums[k] / counts[k] for k in range(len(w)) if counts[k]]
    ax[2].step(acc_t, acc, where="post")
    ax[2].set_ylabel("accuracy served")
    ax[2].set_xlabel("time (s)")
    s = result.summary
    fig.suptitle(title or f"{s['name']}: mean acc. {s['mean_accuracy_served']:.4f}, "
                 f"{s['cap_violations']} cap-violation windows, {s['switches']} switches")
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_comparison(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> str:
    """Mean accuracy served vs cap-violation windows for each policy and static point."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        dyn = r["name"].startswith("dynamic:")
        ax.scatter(r["cap_violations"], r["effective_accuracy"], marker="*" if dyn else "o",
                   s=120 if dyn else 30, label=r["name"] if dyn else None)
    ax.set_xlabel("cap-violation windows")
    ax.set_ylabel("effective accuracy (on-time served / arrived)")
    ax.legend(fontsize=8)
    ax.set_title("dynamic policies (stars) vs static points (dots)")
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
