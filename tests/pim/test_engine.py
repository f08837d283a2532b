from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dynpim.nn import LayerSpec
from dynpim.pim import (
    DEFAULT_MAPPING,
    MAPPINGS,
    bitwise_conv2d,
    bitwise_linear,
    estimate_layers,
    layer_ops,
    load_preset,
)


def _ref(x, w, stride, padding, groups):
    return F.conv2d(x.double(), w.double(), stride=stride, padding=padding,
                    groups=groups).round().long()


def _spec(x, w, stride, padding, groups):
    m, cg, kh, kw = w.shape
    ho = (x.shape[2] + 2 * padding - kh) // stride + 1
    kind = "dwconv" if groups > 1 and groups == m and cg == 1 else "conv"
    return LayerSpec("l", kind, cg * groups, m, (kh, kw), (stride, stride), (padding, padding),
                     groups, (x.shape[2], x.shape[3]), (ho, ho), None, None, False)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(3, 7),
       st.sampled_from([3, 8, 64, 100]), st.sampled_from(MAPPINGS), st.integers(0, 2**31 - 1))
def test_engine_equals_integer_conv_and_counts_equal_cost_model(abits, wbits, groups, cg, mg,
                                                                stride, padding, hw, cols,
                                                                mapping, seed):
    g = torch.Generator().manual_seed(seed)
    k = int(torch.randint(1, 4, (1,), generator=g))
    c, m = groups * cg, groups * mg
    x = torch.randint(0, 2**abits, (2, c, hw, hw), generator=g)
    w = torch.randint(-(2 ** (wbits - 1)), 2 ** (wbits - 1), (m, cg, k, k), generator=g)
    if hw + 2 * padding < k:
        return
    chip = load_preset()
    chip = replace(chip, subarray=replace(chip.subarray, cols=cols))
    # no placement argument: the engine places the layer as the cost model does
    y, counts = bitwise_conv2d(x, w, abits, wbits, stride, padding, groups, hw=chip,
                               mapping=mapping, return_counts=True)
    assert torch.equal(y, _ref(x, w, stride, padding, groups))
    est = estimate_layers([_spec(x, w, stride, padding, groups)], chip, wbits=wbits,
                          abits=abits, mapping=mapping)
    per_image = est.layers[0].counts.as_dict()
    assert counts.as_dict() == {f: 2 * int(v) for f, v in per_image.items()}  # batch of 2


def test_default_placement_is_the_default_preset_and_mapping():
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 4, (1, 1, 6, 6), generator=g)
    w = torch.randint(-2, 2, (4, 1, 3, 3), generator=g)
    _, counts = bitwise_conv2d(x, w, 2, 2, padding=1, return_counts=True)
    est = estimate_layers([_spec(x, w, 1, 1, 1)], load_preset(), wbits=2, abits=2)
    assert est.mapping == DEFAULT_MAPPING and est.layers[0].pixels_per_row == 28  # 256 // 9
    assert counts == est.layers[0].counts
    assert counts.senses == 4 * 2 * 2 * 2  # 36 pixels -> 2 sensed rows of 28


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
