import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.pim import bitwise_conv2d, bitwise_linear, layer_ops


def _ref(x, w, stride, padding, groups):
    return F.conv2d(x.double(), w.double(), stride=stride, padding=padding,
                    groups=groups).round().long()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(3, 7),
       st.sampled_from([3, 8, 64, 100]), st.integers(0, 2**31 - 1))
def test_engine_equals_integer_conv(abits, wbits, groups, cg, mg, stride, padding, hw, cols,
                                    seed):
    g = torch.Generator().manual_seed(seed)
    k = int(torch.randint(1, 4, (1,), generator=g))
    c, m = groups * cg, groups * mg
    x = torch.randint(0, 2**abits, (2, c, hw, hw), generator=g)
    w = torch.randint(-(2 ** (wbits - 1)), 2 ** (wbits - 1), (m, cg, k, k), generator=g)
    if hw + 2 * padding < k:
        return
    y, counts = bitwise_conv2d(x, w, abits, wbits, stride, padding, groups, cols=cols,
                               subarrays_per_tile=2, return_counts=True)
    assert torch.equal(y, _ref(x, w, stride, padding, groups))
    n = y.shape[0] * y.shape[2] * y.shape[3]
    ops = layer_ops(m, cg * k * k, n, groups, 2, abits, wbits, cols, 32)
    assert counts.as_dict() == {f: int(v) for f, v in ops.as_dict().items()}


def test_extremes_and_dtypes():
    x = torch.full((1, 5, 4, 4), 255)
    w = torch.full((3, 5, 3, 3), -128)
    assert torch.equal(bitwise_conv2d(x, w, 8, 8, padding=1), _ref(x, w, 1, 1, 1))
    w = torch.full((3, 5, 3, 3), 127)
    assert torch.equal(bitwise_conv2d(x.numpy(), w.float(), 8, 8), _ref(x, w, 1, 0, 1))


def test_linear_and_counts_match_dataflow():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 16, (3, 70), generator=g)
    w = torch.randint(-8, 8, (6, 70), generator=g)
    y, counts = bitwise_linear(x, w, 4, 4, cols=32, subarrays_per_tile=4, return_counts=True)
    assert torch.equal(y, x @ w.T)
    ops = layer_ops(6, 70, 3, 1, 4, 4, 4, 32, 32)
    assert counts.as_dict() == {f: int(v) for f, v in ops.as_dict().items()}


def test_sensing_errors_seeded_and_scaled():
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, 4, (1, 8, 6, 6), generator=g)
    w = torch.randint(-2, 2, (4, 8, 3, 3), generator=g)
    exact = bitwise_conv2d(x, w, 2, 2, padding=1)
    assert torch.equal(bitwise_conv2d(x, w, 2, 2, padding=1, flip_prob=0.0, generator=0), exact)
    a = bitwise_conv2d(x, w, 2, 2, padding=1, flip_prob=0.05, generator=7)
    b = bitwise_conv2d(x, w, 2, 2, padding=1, flip_prob=0.05,
                       generator=np.random.default_rng(7))
    assert torch.equal(a, b) and not torch.equal(a, exact)
    small = (bitwise_conv2d(x, w, 2, 2, padding=1, flip_prob=0.001, generator=3) - exact).abs()
    large = (bitwise_conv2d(x, w, 2, 2, padding=1, flip_prob=0.2, generator=3) - exact).abs()
    assert small.float().mean() < large.float().mean()
    # p = 1 flips every sensed bit: popcount -> valid bits - popcount, a known closed form
    ones = torch.ones(1, 1, 1, 1, dtype=torch.long)
    y = bitwise_conv2d(ones, ones, 1, 2, flip_prob=1.0, generator=0)  # w = 1: planes 1, 0(sign)
    assert int(y) == 0 * 1 + (-2) * 1  # bit0: AND 1 -> 0; sign bit: AND 0 -> 1, weight -2


@pytest.mark.parametrize("kwargs,match", [
    ({"abits": 0}, "abits"), ({"wbits": 17}, "wbits"), ({"flip_prob": 1.5}, "flip_prob"),
    ({"groups": 2}, "groups"),
])
def test_engine_rejects_bad_arguments(kwargs, match):
    x = torch.zeros(1, 3, 4, 4, dtype=torch.long)
    w = torch.zeros(2, 3, 1, 1, dtype=torch.long)
    args = {"abits": 2, "wbits": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        bitwise_conv2d(x, w, **args)


def test_engine_rejects_out_of_range_values():
    w = torch.zeros(2, 3, 1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="unsigned 2-bit"):
        bitwise_conv2d(torch.full((1, 3, 2, 2), 4), w, 2, 2)
    with pytest.raises(ValueError, match="signed 2-bit"):
        bitwise_conv2d(torch.zeros(1, 3, 2, 2, dtype=torch.long), w + 2, 2, 2)
    with pytest.raises(ValueError, match="integers"):
        bitwise_conv2d(torch.full((1, 3, 2, 2), 0.5), w, 2, 2)
