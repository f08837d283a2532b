"""numpy scalars are accepted wherever a Python number is (issue 20: np.float32 was rejected
with "must be in (0, 1], got 0.5")."""

from __future__ import annotations

import numpy as np

from dynpim.models import create_model
from dynpim.nn import SubnetConfig
from dynpim.quant import check_bits
from dynpim.runtime import OperatingPoint


def test_numpy_ratio_widths_and_bits() -> None:
    m = create_model("lenet", num_classes=np.int64(10), in_channels=np.int32(1))
    assert SubnetConfig.uniform(m, np.float32(0.5)) == SubnetConfig.uniform(m, 0.5)
    cfg = SubnetConfig(np.array([8, 16, 32]))
    assert cfg.widths == (8, 16, 32) and all(type(w) is int for w in cfg.widths)
    m.set_subnet(SubnetConfig([np.int64(w) for w in m.max_config().widths]))
    assert check_bits("wbits", np.int64(4)) == 4


def test_numpy_operating_point() -> None:
    p = OperatingPoint(SubnetConfig([4, 4]), np.int64(16), np.float32(0.5), np.float64(1e-3),
                       np.float32(1e-6), np.float64(0.01), macs=np.int64(1000))
    assert type(p.active_subarrays) is int and type(p.accuracy) is float and p.macs == 1000
