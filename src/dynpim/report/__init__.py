"""Plots and the self-contained HTML report of a demo run."""

from .html import REQUIRED, render_report
from .plots import pareto_mask

__all__ = ["REQUIRED", "pareto_mask", "render_report"]
