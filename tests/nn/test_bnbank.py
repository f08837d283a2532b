"""The model-wide BNBank: keyed by SubnetConfig, it owns calibration, dropping, snapshot /
restore and the checkpoint form; the state_dict format (bank_<key>_mean/var buffers) is the
one checkpoints have always had."""

import pytest
import torch
from torch import nn

from dynpim.nn import (
    BNBank,
    DynamicBatchNorm2d,
    DynamicConv2d,
    DynamicLinear,
    DynamicNet,
    Slot,
    SubnetConfig,
    calibrate_bn,
)

C1, C2, C3 = SubnetConfig([4, 8]), SubnetConfig([16, 32]), SubnetConfig([8, 16])


def tiny() -> DynamicNet:
    torch.manual_seed(0)
    body = nn.Sequential(
        DynamicConv2d(1, 16, 3, padding=1, out_slot="a"), DynamicBatchNorm2d(16, slot="a"),
        nn.ReLU(), DynamicConv2d(16, 32, 1, in_slot="a", out_slot="b"),
        DynamicBatchNorm2d(32, slot="b"), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        DynamicLinear(32, 10, in_slot="b"),
    )
    return DynamicNet(body, [Slot.make("a", 16), Slot.make("b", 32)], input_size=(1, 8, 8))


def batches(n=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(8, 1, 8, 8, generator=g) for _ in range(n)]


def test_calibrate_matches_calibrate_bn_and_membership():
    a, b = tiny(), tiny()
    assert isinstance(a.bn_bank, BNBank)
    assert a.bn_bank.calibrate(C1, batches()) == C1
    calibrate_bn(b, C1, batches())
    assert a.bn_bank_state().keys() == b.bn_bank_state().keys()
    assert all(torch.equal(v, b.bn_bank_state()[k]) for k, v in a.bn_bank_state().items())
    assert C1 in a.bn_bank and [4, 8] in a.bn_bank and C2 not in a.bn_bank
    assert [99, 1] not in a.bn_bank and "4-8" not in a.bn_bank  # not configs of this model
    assert a.bn_bank.configs() == a.banked_configs() == [C1]
    assert a.bn_bank.key(C1) == "4-8"
    with pytest.raises(ValueError, match="at least one batch"):
        a.bn_bank.calibrate(C2, [])


def test_discard_snapshot_restore():
    m = tiny()
    for c in (C1, C2):
        m.bn_bank.calibrate(c, batches())
    before = m.bn_bank_state()
    snap = m.bn_bank.snapshot([C1, C3])  # C3 is not banked: left out
    assert len(snap) == 2 and {k for _, k, _, _ in snap.entries} == {"4-8"}
    m.bn_bank.calibrate(C1, batches(seed=7))  # overwrite C1
    m.bn_bank.discard(C2)
    m.bn_bank.discard(C3)  # nothing banked: no error
    assert m.banked_configs() == [C1]
    m.bn_bank.restore(snap)
    after = m.bn_bank_state()
    assert set(after) == {k for k in before if "|4-8|" in k}
    assert all(torch.equal(after[k], before[k]) for k in after)
    m.bn_bank.clear()
    assert m.banked_configs() == [] and len(m.bn_bank.state()) == 0


def test_state_dict_format_is_the_checkpoint_format():
    m = tiny()
    m.bn_bank.calibrate(C1, batches())
    assert m.bn_bank.state_dict_keys() == {f"body.{i}.bank_4-8_{w}" for i in (1, 4)
                                           for w in ("mean", "var")}
    assert m.bn_bank.state_dict_keys() <= set(m.state_dict())
    assert set(m.bn_bank.state()) == {f"{i}|4-8|{w}" for i in (1, 4) for w in ("mean", "var")}
    # a state dict written before BNBank existed (same buffer names) loads into a fresh model
    old = {k: v.clone() for k, v in m.state_dict().items()}
    fresh = tiny()
    fresh.load_state_dict(old)
    assert C1 in fresh.bn_bank
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad(), m.subnet(C1), fresh.subnet(C1):
        torch.testing.assert_close(fresh.eval()(x), m.eval()(x), rtol=0, atol=0)
    other = tiny()
    other.bn_bank.load_state(m.bn_bank.state())
    assert other.banked_configs() == [C1]
    with pytest.raises(ValueError, match="does not match"):
        other.bn_bank.load_state({"0|4-8|mean": torch.zeros(4)})  # layer 0 is a conv
