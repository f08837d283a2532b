"""The simulator's cap accounting (``dynpim.runtime.windows``): energy spread over windows in
proportion to time, the time-averaged cap per window, and the violation rule."""

import numpy as np
import pytest

from dynpim.runtime.traces import Trace
from dynpim.runtime.windows import WindowAccumulator, violations, window_length


def trace() -> Trace:
    # cap 2 W for 1.5 s, then 1 W until the end at 3 s
    return Trace(time_s=np.array([0.0, 1.5, 3.0]), power_cap_w=np.array([2.0, 1.0, 1.0]),
                 arrival_rate_hz=np.array([1.0, 1.0, 1.0]))


def test_energy_is_spread_in_proportion_to_time_and_conserved():
    acc = WindowAccumulator(0.0, 1.0, 3)
    acc.add_energy(0.5, 2.5, 4.0)        # 2 s at 2 W: 1 J, 2 J, 1 J over windows 0, 1, 2
    acc.add_energy(2.2, 2.2, 0.25)       # zero length: all in its window
    acc.add_energy(0.1, 7.9, 0.0)        # nothing to add
    acc.add_served(0.7, 0.9)
    acc.add_served(2.9, 0.8)
    stats = acc.finish(trace(), 3.0)
    assert stats.energy_j.tolist() == [1.0, 2.0, 1.25]
    assert stats.served.tolist() == [1, 0, 1]
    # time-averaged cap: window [1, 2) holds 0.5 s at 2 W and 0.5 s at 1 W
    assert stats.power_cap_w.tolist() == pytest.approx([2.0, 1.5, 1.0])
    cols = stats.columns()
    assert cols["violation"].tolist() == [0, 1, 1]
    assert np.isnan(cols["mean_accuracy"][1]) and cols["mean_accuracy"][2] == pytest.approx(0.8)


def test_a_long_service_and_energy_after_the_end_stay_counted():
    acc = WindowAccumulator(0.0, 0.5, 1)  # grows on demand
    acc.add_energy(0.0, 10.0, 20.0)       # past the end of the 3 s trace
    stats = acc.finish(trace(), 3.0)
    assert len(stats) == 6 and stats.energy_j.sum() == pytest.approx(20.0)
    assert stats.energy_j[-1] == pytest.approx(1.0 + 14.0)  # its own 1 J plus all past the end


def test_violation_tolerance_and_window_length():
    assert violations(np.array([1.0, 1.0 + 1e-12, 1.1]), np.array([1.0, 1.0, 1.0])).tolist() \
        == [False, False, True]
    assert window_length(trace(), None) == 1.5 and window_length(trace(), 0.25) == 0.25
    with pytest.raises(ValueError, match="window_s must be > 0"):
        window_length(trace(), 0.0)
