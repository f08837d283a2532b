"""precision_probe_digits: the arms' truncations and plans, restored after each arm."""

import precision_probe_digits as b
import pytest
import torch

from dynpim.quant import quantizers
from dynpim.train import trainer


def test_arms_swap_truncation_and_plan_and_restore_them():
    codes = torch.tensor([-128.0, -17.0, -1.0, 0.0, 9.0, 127.0])
    originals = (quantizers.truncate_codes, quantizers.weight_codes_at, trainer.precision_plan)
    with b.arm_patches("floor/lowest"):
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -2, -1, 0, 0, 7]
        assert trainer.precision_plan is b._lowest_plan
    with b.arm_patches("round/lowest"):
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -1, 0, 0, 1, 7]
    with b.arm_patches("carry/mixed"):  # top planes + the next plane, unclamped
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -1, 0, 0, 1, 8]
        assert trainer.precision_plan is originals[2]
    with b.arm_patches("midrise/mixed"):  # dynpim's own
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-15, -3, -1, 1, 1, 15]
        assert trainer.precision_plan is originals[2]
    with pytest.raises(RuntimeError), b.arm_patches("floor/lowest"):
        raise RuntimeError("a failing arm restores too")
    assert (quantizers.truncate_codes, quantizers.weight_codes_at,
            trainer.precision_plan) == originals
    g = torch.Generator().manual_seed(0)
    assert all(b._lowest_plan(4, [(4, 4), (2, 2)], g)[1] == (2, 2) for _ in range(20))


def test_summarise_means_and_spreads_over_seeds():
    per_seed = {0: {"a": {"8/8": [10.0, 20.0, 30.0, 40.0]}},
                1: {"a": {"8/8": [20.0, 20.0, 50.0, 40.0]}}}
    s = b.summarise(per_seed)["a"]["8/8"]
    assert s["mean"] == [15.0, 20.0, 40.0, 40.0]
    assert s["sd"] == [7.07, 0.0, 14.14, 0.0]
