"""The BN bank is module state: device/dtype moves, state_dict, deepcopy and export carry it."""

import copy
import os
import sys

import pytest
import torch

from dynpim.nn import (
    DynamicBatchNorm2d,
    SubnetConfig,
    calibrate_bn,
)

sys.path.insert(0, os.path.dirname(__file__))
from tiny_nets import tiny  # noqa: E402

C1, C2 = SubnetConfig([4, 8]), SubnetConfig([16, 32])


def banked():
    torch.manual_seed(0)
    m = tiny()
    for cfg in (C1, C2):
        calibrate_bn(m, cfg, [torch.randn(8, 1, 8, 8)])
    return m.eval()


def bank_of(m):
    return {k: v.clone() for k, v in m.bn_bank_state().items()}


def test_state_dict_carries_bank_and_round_trips():
    m = banked()
    sd = m.state_dict()
    assert {k for k in sd if ".bank_" in k} == m.bank_state_keys()
    assert len(m.bank_state_keys()) == 3 * 2 * 2  # 3 BN layers x 2 configs x (mean, var)
    fresh = tiny()
    fresh.load_state_dict(sd)  # strict: the bank buffers are created on load
    assert fresh.banked_configs() == m.banked_configs()
    x = torch.randn(3, 1, 8, 8)
    fresh.eval()
    for cfg in (C1, C2):
        with m.subnet(cfg), fresh.subnet(cfg), torch.no_grad():
            torch.testing.assert_close(fresh(x), m(x), rtol=0, atol=0)


def test_load_replaces_bank_but_weights_only_state_keeps_it():
    m = banked()
    other = tiny()
    calibrate_bn(other, SubnetConfig([8, 16]), [torch.randn(4, 1, 8, 8)])
    other.load_state_dict(m.state_dict())
    assert other.banked_configs() == m.banked_configs()  # [8, 16] is gone
    before = bank_of(m)
    m.load_state_dict(tiny().weights_state_dict())  # no bank entries: bank untouched
    after = bank_of(m)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_double_half_and_deepcopy_keep_bank():
    m = banked()
    ref = bank_of(m)
    d = copy.deepcopy(m).double()
    assert all(v.dtype == torch.float64 for v in d.bn_bank_state().values())
    assert d.bn_bank_state().keys() == ref.keys()
    x = torch.randn(2, 1, 8, 8)
    with m.subnet(C1), d.subnet(C1), torch.no_grad():
        torch.testing.assert_close(d(x.double()).float(), m(x), rtol=1e-5, atol=1e-5)
    h = copy.deepcopy(m).half()
    assert all(v.dtype == torch.float16 for v in h.bn_bank_state().values())
    # the original is untouched by the copies
    assert all(torch.equal(ref[k], v) for k, v in m.bn_bank_state().items())


def test_meta_device_keeps_every_bank_entry():
    m = banked()
    meta = copy.deepcopy(m).to("meta")
    assert meta.banked_configs() == m.banked_configs()
    assert all(v.device.type == "meta" for v in meta.bn_bank_state().values())
    # a meta model materialised by load_state_dict(assign=True) gets the bank back
    skeleton = tiny().to("meta")
    skeleton.load_state_dict(m.state_dict(), assign=True)
    assert skeleton.banked_configs() == m.banked_configs()
    with torch.no_grad(), skeleton.subnet(C2), m.subnet(C2):
        x = torch.randn(2, 1, 8, 8)
        torch.testing.assert_close(skeleton.eval()(x), m(x))


def test_bank_entries_are_buffers_that_follow_set_values():
    bn = DynamicBatchNorm2d(8).double()
    bn.bank["4"] = (torch.zeros(4), torch.ones(4))  # float32 in, layer dtype stored
    mean, var = bn.bank["4"]
    assert mean.dtype == torch.float64 and mean is bn.get_buffer("bank_4_mean")
    del bn.bank["4"]
    assert "4" not in bn.bank and len(bn.bank) == 0
    with pytest.raises(ValueError, match="config key"):
        bn.bank["a.b"] = (torch.zeros(4), torch.ones(4))
