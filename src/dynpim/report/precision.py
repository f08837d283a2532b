"""The width x precision figure of the report: a jointly trained network's two run-time knobs
side by side (test top-1 and PIM energy per image of every uniform width at every precision)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def grid_arrays(grid: list[dict[str, Any]]) -> tuple[list[str], list[float], np.ndarray,
                                                     np.ndarray]:
    """Row labels (precisions, highest first), column widths (ascending), and the accuracy (%)
    and energy (µJ) matrices of ``evaluation.json``'s ``precision_grid`` rows; a missing cell
    is NaN."""
    if not grid:
        raise ValueError("precision_grid is empty: nothing to plot")
    bits = sorted({tuple(r["bits"]) for r in grid}, reverse=True)
    widths = sorted({float(r["width"]) for r in grid})
    acc = np.full((len(bits), len(widths)), np.nan)
    energy = np.full_like(acc, np.nan)
    for r in grid:
        i, j = bits.index(tuple(r["bits"])), widths.index(float(r["width"]))
        acc[i, j], energy[i, j] = 100 * r["accuracy_quantized"], 1e6 * r["energy_j"]
    return [f"W{w}/A{a}" for w, a in bits], widths, acc, energy


def width_precision_heatmap(grid: list[dict[str, Any]], out: Path) -> Path:
    """Two heat maps (test top-1 %, PIM energy µJ) over width (columns) and precision (rows),
    each cell annotated with its value; written to ``out`` (PNG)."""
    from matplotlib.figure import Figure

    rows, widths, acc, energy = grid_arrays(grid)
    fig = Figure(figsize=(12, 1.2 + 0.6 * len(rows)))
    axes = fig.subplots(1, 2)
    for ax, m, title, cmap, fmt in ((axes[0], acc, "test top-1 (%)", "viridis", "{:.1f}"),
                                    (axes[1], energy, "PIM energy per image (µJ)", "magma_r",
                                     "{:.3g}")):
        im = ax.imshow(m, cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(widths)), [f"{w:g}" for w in widths])
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("uniform width (fraction of channels)")
        ax.set_title(title)
        lo, hi = np.nanmin(m), np.nanmax(m)
        for (i, j), v in np.ndenumerate(m):
            if not np.isnan(v):
                low = (v - lo) / (hi - lo + 1e-12) < 0.5  # dark in viridis, light in magma_r
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                        color="white" if low == (cmap == "viridis") else "black")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out
