"""Report figures draw labels literally: matplotlib math text in a label is escaped (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynpim.report.plots import accuracy_vs_cost, plain_text, power_latency_knob

BAD = r"$\frac{$"


def test_plain_text_escapes_every_dollar() -> None:
    assert plain_text(BAD) == r"\$\frac{\$"
    assert plain_text("0.5x") == "0.5x"


@pytest.mark.parametrize("draw", ["knob", "accuracy"])
def test_math_text_label_is_drawn(tmp_path: Path, draw: str) -> None:
    out = tmp_path / "f.png"
    if draw == "knob":
        pts = [{"label": BAD, "active_subarrays": a, "latency_s": 1e-5 / a,
                "avg_power_w": 1e-3 * a, "energy_j": 1e-8} for a in (1, 2)]
        power_latency_knob(pts, out)
    else:
        pts = [{"family": BAD, "macs": 1e6 * k, "latency_s": 1e-5 * k, "energy_j": 1e-8 * k,
                "accuracy": 0.5 + 0.1 * k} for k in (1, 2)]
        accuracy_vs_cost(pts, out, note=f" {BAD}")
    assert out.stat().st_size > 0
