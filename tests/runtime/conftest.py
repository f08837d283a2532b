"""Hand-built operating tables for the runtime tests (until search writes real ones)."""

from __future__ import annotations

import pytest

from dynpim.nn import SubnetConfig
from dynpim.runtime import OperatingPoint, OperatingTable


def make_table(n_widths: int = 4, subarrays: tuple[int, ...] = (16, 64)) -> OperatingTable:
    """Wider sub-nets: more accurate, slower, more energy; more sub-arrays: faster, more power."""
    pts = []
    for i in range(1, n_widths + 1):
        r = i / n_widths
        for a in subarrays:
            lat = 1e-3 * r * r * 64 / a
            pw = 0.05 * a / 16 * (0.5 + r)
            pts.append(OperatingPoint(SubnetConfig([4 * i] * 3), a, 0.6 + 0.3 * r, lat,
                                      lat * pw, pw))
    return OperatingTable.from_points(pts, {"model": {"name": "toy", "args": {}}})


@pytest.fixture
def table() -> OperatingTable:
    return make_table()


@pytest.fixture(name="make_table")
def make_table_fixture():
    return make_table
