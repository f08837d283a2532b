"""Figures of the report (matplotlib Figure objects: no pyplot, no backend chosen or changed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dynpim.figures import subplots
from dynpim.pareto import pareto_mask as front_mask

FAMILY_STYLE = {"uniform": ("tab:blue", "o"), "nonuniform": ("tab:orange", "s")}


def plain_text(text: object) -> str:
    """``text`` as matplotlib shows it literally: every ``$`` escaped, so a label holding math
    text (``$\\frac{$``) is drawn as typed instead of failing to parse."""
    return str(text).replace("$", r"\$")


def pareto_mask(cost: Sequence[float] | np.ndarray, accuracy: Sequence[float] | np.ndarray
                ) -> np.ndarray:
    """True where no other point has lower-or-equal cost and higher-or-equal accuracy (one
    strictly better): :func:`dynpim.pareto.pareto_mask` on (accuracy up, cost down)."""
    return front_mask(maximize=[accuracy], minimize=[cost])


def accuracy_vs_cost(points: list[dict[str, Any]], out: Path, *, note: str = "") -> Path:
    """Accuracy vs MACs, PIM latency and PIM energy per family, Pareto front as a line;
    ``note`` (e.g. the active sub-arrays) is added to the PIM axis labels."""
    axes_spec = [("macs", 1e-6, "MACs per image (M)"),
                 ("latency_s", 1e6, f"PIM latency per image (µs){plain_text(note)}"),
                 ("energy_j", 1e6, f"PIM energy per image (µJ){plain_text(note)}")]
    fig, axes = subplots(1, 3, figsize=(15, 4.4))
    for ax, (key, scale, label) in zip(axes, axes_spec):
        for fam in sorted({p["family"] for p in points}):
            pts = [p for p in points if p["family"] == fam and p.get(key) is not None]
            if not pts:
                continue
            color, marker = FAMILY_STYLE.get(fam, ("tab:gray", "^"))
            x = np.array([p[key] for p in pts]) * scale
            y = np.array([p["accuracy"] for p in pts]) * 100
            ax.scatter(x, y, c=color, marker=marker, label=plain_text(fam), alpha=0.8)
            front = pareto_mask(x, y)
            order = np.argsort(x[front])
            ax.plot(x[front][order], y[front][order], color=color, lw=1.2)
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(title="sub-nets (line: Pareto front)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def layer_breakdown(nets: dict[str, dict[str, Any]], out: Path) -> Path:
    """Per-layer energy by component (stacked) and latency, one row per sub-net."""
    fig, axes = subplots(len(nets), 2, figsize=(15, 3.6 * len(nets)), squeeze=False)
    for row, (name, net) in enumerate(nets.items()):
        title = plain_text(name)
        layers = net["layers"]
        names = [plain_text(lay["name"]) for lay in layers]
        comps = sorted({c for lay in layers for c in lay["energy_j"]})
        x = np.arange(len(layers))
        bottom = np.zeros(len(layers))
        ax = axes[row, 0]
        for comp in comps:
            v = np.array([lay["energy_j"].get(comp, 0.0) for lay in layers]) * 1e9
            ax.bar(x, v, bottom=bottom, label=plain_text(comp))
            bottom += v
        ax.set_title(f"{title}: energy per layer by component")
        ax.set_ylabel("energy (nJ)")
        ax.legend(fontsize=7, ncol=2)
        ax2 = axes[row, 1]
        ax2.bar(x, np.array([lay["latency_s"] for lay in layers]) * 1e6, color="tab:purple")
        ax2.set_title(f"{title}: latency per layer")
        ax2.set_ylabel("latency (µs)")
        for a in (ax, ax2):
            a.set_xticks(x)
            a.set_xticklabels(names, rotation=70, fontsize=6)
            a.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def power_latency_knob(points: list[dict[str, Any]], out: Path) -> Path:
    """The active-sub-array knob is a power cap that throttles: per sub-net, power while
    computing (left) and energy per inference (right) against latency, one marker per number
    of powered sub-arrays."""
    fig, axes = subplots(1, 2, figsize=(12, 4.6))
    panels = (("avg_power_w", 1e3, "power while computing (mW)"),
              ("energy_j", 1e6, "energy per inference (µJ)"))
    for ax, (key, scale, ylabel) in zip(axes, panels):
        for label in dict.fromkeys(p["label"] for p in points):
            pts = sorted((p for p in points if p["label"] == label and key in p),
                         key=lambda p: p["active_subarrays"])
            x = [p["latency_s"] * 1e6 for p in pts]
            y = [p[key] * scale for p in pts]
            ax.plot(x, y, marker="o", label=plain_text(label))
            for p, xi, yi in zip(pts, x, y):
                ax.annotate(str(p["active_subarrays"]), (xi, yi), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("latency per image (µs)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_title("Power cap (labels: powered sub-arrays)")
    axes[1].set_title("Energy per inference under the cap")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def runtime_trace(windows: list[dict[str, Any]], static_windows: list[dict[str, Any]] | None,
                  out: Path, *, static_label: str = "best static point") -> Path:
    """Power cap vs consumed power, chosen sub-net and served accuracy over time, against the
    best static operating point. ``windows`` rows need time_s, cap_w, power_w, accuracy and
    point (index of the chosen operating point)."""
    fig, axes = subplots(3, 1, figsize=(11, 8), sharex=True)
    t = [w["time_s"] for w in windows]
    axes[0].plot(t, [w["cap_w"] * 1e3 for w in windows], "k--", label="power cap")
    axes[0].step(t, [w.get("active_power_w", w["power_w"]) * 1e3 for w in windows],
                 where="post", color="tab:blue", label="dynamic: power while computing")
    axes[0].plot(t, [w["power_w"] * 1e3 for w in windows], color="tab:blue", alpha=0.35, lw=0.8,
                 label="dynamic: average over the window (idle gaps included)")
    if static_windows:
        axes[0].step([w["time_s"] for w in static_windows],
                     [w.get("active_power_w", w["power_w"]) * 1e3 for w in static_windows],
                     where="post", color="tab:orange", alpha=0.8,
                     label=f"{plain_text(static_label)}: power while computing")
    axes[0].set_ylabel("power (mW)")
    axes[0].legend(fontsize=8)
    axes[1].step(t, [w["point"] for w in windows], where="post")
    axes[1].set_ylabel("operating point #")
    axes[1].yaxis.get_major_locator().set_params(integer=True)
    axes[2].plot(t, [100 * w["accuracy"] for w in windows], label="dynamic")
    if static_windows:
        axes[2].plot([w["time_s"] for w in static_windows],
                     [100 * w["accuracy"] for w in static_windows], alpha=0.7,
                     label=plain_text(static_label))
    axes[2].set_ylabel("accuracy served (%)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(fontsize=8)
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out
