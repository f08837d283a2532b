"""precision_probe_digits: the arms' truncations and plans, restored after each arm."""

import precision_probe_digits as b
import pytest
import torch

from dynpim.nn import SubnetConfig
from dynpim.quant import quantizers
from dynpim.train import trainer


def test_arms_swap_truncation_and_plan_and_restore_them():
    codes = torch.tensor([-128.0, -17.0, -1.0, 0.0, 9.0, 127.0])
    originals = (quantizers.truncate_codes, quantizers.weight_codes_at, trainer.step_passes)
    with b.arm_patches("floor/lowest"):
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -2, -1, 0, 0, 7]
        assert trainer.step_passes is b._lowest_passes
    with b.arm_patches("round/lowest"):
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -1, 0, 0, 1, 7]
    with b.arm_patches("carry/mixed"):  # top planes + the next plane, unclamped
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-8, -1, 0, 0, 1, 8]
        assert trainer.step_passes is b._mixed_passes
    with b.arm_patches("midrise/paired"):  # dynpim's own
        assert quantizers.truncate_codes(codes, 8, 4).tolist() == [-15, -3, -1, 1, 1, 15]
        assert trainer.step_passes is originals[2]
    with pytest.raises(RuntimeError), b.arm_patches("floor/lowest"):
        raise RuntimeError("a failing arm restores too")
    assert (quantizers.truncate_codes, quantizers.weight_codes_at,
            trainer.step_passes) == originals


def test_plans_one_pass_per_config_or_pairs_at_weight_one():
    g = torch.Generator().manual_seed(0)
    cfgs = [SubnetConfig((4,)), SubnetConfig((1,)), SubnetConfig((2,))]
    precisions = [(4, 4), (2, 2)]
    for _ in range(20):
        lowest = b._lowest_passes(cfgs, precisions, g)
        assert [p.bits for p in lowest[:2]] == [None, (2, 2)] and len(lowest) == 3
        mixed = b._mixed_passes(cfgs, precisions, g)
        assert [p.config for p in mixed] == cfgs and mixed[0].bits is None
        pairs = b._summed_pairs(cfgs, precisions, g)
        assert len(pairs) == 5 and all(p.weight == 1.0 for p in pairs)
    assert b.LR * 4 / b.PASSES["midrise/paired-sum"] == pytest.approx(0.1 * 4 / 7)
    with_largest = b.PLANS["paired+largest-half"](cfgs, precisions, g)
    assert [(p.config, p.weight) for p in with_largest[:2]] == [(cfgs[0], 0.5), (cfgs[0], 0.5)]
    assert with_largest[0].bits is None and with_largest[1].bits in precisions
    assert len(with_largest) == 6 and b.PLANS["paired+largest"](cfgs, precisions, g)[0].weight == 1


def test_summarise_means_and_spreads_over_seeds():
    per_seed = {0: {"a": {"8/8": [10.0, 20.0, 30.0, 40.0]}},
                1: {"a": {"8/8": [20.0, 20.0, 50.0, 40.0]}}}
    s = b.summarise(per_seed)["a"]["8/8"]
    assert s["mean"] == [15.0, 20.0, 40.0, 40.0]
    assert s["sd"] == [7.07, 0.0, 14.14, 0.0]


def test_the_bn_and_weight_arms_are_dynpims_pairs_with_one_option_changed(monkeypatch, tmp_path):
    """``midrise/paired+bn`` and ``midrise/paired-3:1`` keep dynpim's truncation and plan and
    change one option each: ``bn_per_precision``, ``lower_weight`` (training stubbed out)."""
    seen = {}

    class Stop(Exception):
        pass

    def fake_train(cfg, splits):
        seen.update(cfg=cfg, plan=b.trainer_module.step_passes)
        raise Stop

    monkeypatch.setattr(b, "train", fake_train)
    for arm, bn, weight in (("midrise/paired+bn", True, 0.5), ("midrise/paired", False, 0.5),
                            ("midrise/paired-3:1", False, 0.25)):
        with pytest.raises(Stop):
            b.run_arm(arm, 0, None, 1, str(tmp_path))
        assert seen["cfg"].bn_per_precision is bn and seen["plan"] is trainer.step_passes
        assert seen["cfg"].lower_weight == weight


def test_pair_plans_pass_the_lower_weight_through():
    """The post-adoption arms ran at lower_weight 1/2: their plans must keep it whatever
    dynpim's default is."""
    g = torch.Generator().manual_seed(0)
    cfgs = [SubnetConfig((4,)), SubnetConfig((1,)), SubnetConfig((2,))]
    for plan in ("paired+largest", "paired-self"):
        passes = b.PLANS[plan](cfgs, [(4, 4), (2, 2)], g, 0.5)
        assert [p.weight for p in passes[-4:]] == [0.5] * 4
