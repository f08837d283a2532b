"""One bit-width rule (dynpim.errors.is_bits / check_bits) behind every site that validates
wbits/abits, each with the message it always had."""

import numpy as np
import pytest

from dynpim.errors import FLOAT_BITS, MODEL_MAX_BITS, PIM_MAX_BITS, check_bits, is_bits


def test_the_rule_and_its_two_ranges():
    assert [b for b in range(-1, 40) if is_bits(b)] == list(range(1, PIM_MAX_BITS + 1))
    assert [b for b in range(-1, 40) if is_bits(b, max_bits=MODEL_MAX_BITS, float_bits=True)] \
        == [*range(1, 9), FLOAT_BITS]
    assert is_bits(np.int64(4)) and check_bits("w", np.uint8(3)) == 3
    for bad in (True, 4.0, "4", None):
        assert not is_bits(bad)
    with pytest.raises(ValueError, match=r"^wbits must be an int in 1\.\.16, got 17$"):
        check_bits("wbits", 17)
    with pytest.raises(ValueError, match=r"^abits must be an int in 1\.\.8 or 32 \(float\), "
                                         r"got 9$"):
        check_bits("abits", 9, max_bits=8, float_bits=True)


def test_every_site_keeps_its_message():
    from dynpim.nn.quant import check_bits as nn_check
    from dynpim.pim import bitwise_conv2d, load_preset
    from dynpim.pim.bits import uniform_bits
    from dynpim.runtime import OperatingPoint
    from dynpim.train.config import TrainConfig

    hw = load_preset()
    with pytest.raises(ValueError, match=r"^wbits must be an int in 1\.\.16, got 0$"):
        uniform_bits(3, hw, 0, None)
    x, w = np.zeros((1, 1, 3, 3), np.int64), np.zeros((1, 1, 1, 1), np.int64)
    with pytest.raises(ValueError, match=r"^abits must be an int in 1\.\.16, got 17$"):
        bitwise_conv2d(x, w, 17, 4)
    with pytest.raises(ValueError, match=r"quantization\.wbits must be in 1\.\.16, got 17$"):
        hw.with_bits(wbits=17)
    with pytest.raises(ValueError, match=r"field 'bits' must be \[wbits, abits\] in 1\.\.16"):
        OperatingPoint.from_dict({"config": {"widths": [4]}, "active_subarrays": 1,
                                  "accuracy": 0.5, "latency_s": 1.0, "energy_j": 1.0,
                                  "avg_power_w": 1.0, "bits": [0, 4]})
    with pytest.raises(ValueError, match=r"^wbits must be an int in 1\.\.8 or 32 \(float\), "
                                         r"got 9$"):
        TrainConfig(wbits=9)
    for bad in (0, 9, 31, True):  # the model's quantizers (nn/) say the same as the shared rule
        with pytest.raises(ValueError) as nn_err:
            nn_check("abits", bad)
        with pytest.raises(ValueError) as err:
            check_bits("abits", bad, max_bits=MODEL_MAX_BITS, float_bits=True)
        assert str(nn_err.value) == str(err.value)
