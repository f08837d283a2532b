import os
import sys

import pytest
import torch
from torch import nn

from dynpim.nn import (
    DynamicBatchNorm2d,
    DynamicConv2d,
    DynamicNet,
    Slot,
    SubnetConfig,
    calibrate_bn,
    set_sync_batchnorm,
)

sys.path.insert(0, os.path.dirname(__file__))
from tiny_nets import tiny  # noqa: E402


def test_conv_slices_views_without_copy():
    conv = DynamicConv2d(8, 16, 3, padding=1)
    w, _, groups = conv.sliced(4, 6)
    assert w.shape == (6, 4, 3, 3) and groups == 1
    assert w.untyped_storage().data_ptr() == conv.weight.untyped_storage().data_ptr()


def test_depthwise_conv_matches_reference():
    conv = DynamicConv2d(8, 8, 3, padding=1, depthwise=True)
    x = torch.randn(2, 5, 6, 6)
    ref = nn.functional.conv2d(x, conv.weight[:5], None, 1, 1, 1, 5)
    assert torch.equal(conv(x), ref)


def test_depthwise_requires_equal_slots():
    with pytest.raises(ValueError, match="same slot"):
        DynamicConv2d(8, 8, 3, depthwise=True, in_slot="a", out_slot="b")


def test_forward_widths_follow_config():
    m = tiny()
    m.set_subnet(SubnetConfig([4, 8]))
    feats = m.body[:9](torch.randn(2, 1, 8, 8))
    assert feats.shape == (2, 8, 8, 8)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_eval_without_calibration_raises_clear_error():
    m = tiny().eval()
    with pytest.raises(RuntimeError, match="not calibrated"):
        m(torch.randn(1, 1, 8, 8))


def test_calibrate_bn_equals_batch_statistics():
    m = tiny()
    cfg = SubnetConfig([6, 12])
    x1, x2 = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    calibrate_bn(m, cfg, [x1, (x2, torch.zeros(8))])
    bn0 = m.body[1]
    mean, var = bn0.bank[cfg.key]
    with torch.no_grad():
        m.set_subnet(cfg)
        a, b = m.body[0](x1), m.body[0](x2)
    expect_mean = (a.mean((0, 2, 3)) + b.mean((0, 2, 3))) / 2
    expect_var = (a.var((0, 2, 3)) + b.var((0, 2, 3))) / 2
    assert mean.shape == (6,)
    torch.testing.assert_close(mean, expect_mean)
    torch.testing.assert_close(var, expect_var)


def test_bank_switch_does_not_recompute():
    m = tiny()
    c1, c2 = SubnetConfig([4, 8]), SubnetConfig([16, 32])
    calibrate_bn(m, c1, [torch.randn(4, 1, 8, 8)])
    calibrate_bn(m, c2, [torch.randn(4, 1, 8, 8)])
    before = {k: v.clone() for k, v in m.bn_bank_state().items()}
    ids = {id(t) for bn in m.body if isinstance(bn, DynamicBatchNorm2d) for t in bn.bank[c1.key]}
    calls = []
    hook = m.register_forward_hook(lambda *a: calls.append(1))
    m.eval()
    for cfg in (c1, c2, c1):
        m.set_subnet(cfg)
    assert calls == []
    ids_after = {id(t) for bn in m.body if isinstance(bn, DynamicBatchNorm2d)
                 for t in bn.bank[c1.key]}
    assert ids == ids_after
    after = m.bn_bank_state()
    assert all(torch.equal(before[k], after[k]) for k in before)
    hook.remove()
    with torch.no_grad():
        m(torch.randn(2, 1, 8, 8))
    assert m.banked_configs() == sorted([c1, c2], key=lambda c: c.key)


def test_bn_bank_state_roundtrip_and_mismatch():
    m, m2 = tiny(), tiny()
    cfg = SubnetConfig([4, 8])
    calibrate_bn(m, cfg, [torch.randn(4, 1, 8, 8)])
    m2.load_bn_bank_state(m.bn_bank_state())
    assert m2.banked_configs() == [cfg]
    bad = {k: torch.zeros(3) for k in m.bn_bank_state()}
    with pytest.raises(ValueError, match="wrong shape"):
        tiny().load_bn_bank_state(bad)
    with pytest.raises(ValueError, match="does not match"):
        tiny().load_bn_bank_state({"nope|4-8|mean": torch.zeros(4)})


def test_subnet_context_restores_previous():
    m = tiny()
    m.set_subnet([4, 8])
    with m.subnet([16, 32]) as cfg:
        assert cfg == m.max_config() == m.current_config
    assert m.current_config == SubnetConfig([4, 8])


def test_unknown_slot_rejected():
    body = nn.Sequential(DynamicConv2d(1, 4, 3, out_slot="zz"))
    with pytest.raises(ValueError, match="unknown slot 'zz'"):
        DynamicNet(body, [Slot.make("a", 4)])


def test_sync_batchnorm_in_one_process_group_equals_batch_norm(tmp_path):
    """The synced path's own arithmetic (forward and gradients) matches F.batch_norm; with one
    process the global batch is the local one. The 2-process case is in tests/train."""
    import torch.distributed as dist

    m = tiny()
    assert set_sync_batchnorm(m) == 3 and m.body[1].sync  # every BN of tiny()
    ref = tiny()
    ref.load_state_dict(m.state_dict())
    x = torch.randn(8, 1, 8, 8)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0,
                            world_size=1)
    try:
        m(x).square().sum().backward()
    finally:
        dist.destroy_process_group()
    ref(x).square().sum().backward()
    for (name, a), b in zip(m.named_parameters(), ref.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert set_sync_batchnorm(m, False) == 3 and not m.body[1].sync
