import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pim_helpers import tiny_net

from dynpim.nn import LayerSpec, SubnetConfig
from dynpim.pim import COMPONENTS, estimate, estimate_layers, estimate_many, load_preset

LIN = LayerSpec("fc", "linear", 10, 3, (1, 1), (1, 1), (0, 0), 1, (1, 1), (1, 1), None, None,
                False)


def test_hand_computed_latency_and_energy(simple_hw):
    r = estimate_layers([LIN], simple_hw)  # 2-bit x 2-bit, see test_dataflow for the counts
    assert r.mapped_subarrays == 9 and r.layers[0].active_subarrays == 9
    # per pixel and activation bit: 1 row write + 2 weight-row senses (1 ns each) = 3 ns, x2
    # bits = 6 ns, + 2 cross-tile adds = 8 ns, + 1 wake-up = 9 ns
    assert r.latency_s == pytest.approx(9e-9)
    e = r.energy_breakdown_j
    assert e["sense"] == pytest.approx(120e-12)
    assert e["write"] == pytest.approx(60e-12)
    assert e["compute"] == pytest.approx(120e-12 + 42e-12)
    assert e["bus"] == pytest.approx(218e-12 + 26e-12)
    assert e["wakeup"] == pytest.approx(9e-12)
    assert e["leakage"] == pytest.approx(9e-9 * (9e-6 + 1e-3))
    assert r.energy_j == pytest.approx(sum(e.values()))
    assert r.avg_power_w == pytest.approx(r.energy_j / r.latency_s) == r.peak_power_w
    assert r.area_mm2 == pytest.approx((64 * (36e-18 + 1e-12) + 1e-12) * 1e6)
    assert r.utilisation == pytest.approx(36e-9 / (9e-9 * 9))
    assert r.buffer_bits_needed == (10 + 3) * 2 and r.buffer_fits
    # 4 active sub-arrays: 3 waves of the 9, idle ones keep weights at retention power
    r4 = estimate_layers([LIN], simple_hw, active_subarrays=4)
    assert r4.layers[0].waves == 3
    assert r4.latency_s == pytest.approx(27e-9)
    assert r4.energy_breakdown_j["leakage"] == pytest.approx(27e-9 * (4e-6 + 1e-3 + 5e-6))
    assert r4.energy_breakdown_j["sense"] == e["sense"]


def test_active_subarrays_validation(simple_hw, tiny):
    for bad in (0, 65, 2.5):
        with pytest.raises(ValueError, match="active_subarrays must be integers in 1..64"):
            estimate_layers([LIN], simple_hw, active_subarrays=bad)
    with pytest.raises(ValueError, match="slot 'a'"):
        estimate(tiny, [3, 3], simple_hw)


def test_power_gating_of_volatile_vs_nonvolatile(tiny):
    sot, sram = load_preset("sot-mram"), load_preset("sram")
    cfg = tiny.max_config()
    assert sot.device.retention_power_w == 0 and sram.device.retention_power_w > 0
    r = estimate(tiny, cfg, sram, active_subarrays=1)
    assert r.energy_breakdown_j["leakage"] > estimate(tiny, cfg, sot,
                                                      active_subarrays=1).energy_breakdown_j[
        "leakage"]


def test_non_uniform_config_costs_its_layer_widths(tiny):
    hw = load_preset("sot-mram")
    cfg = SubnetConfig([4, 12])
    r = estimate(tiny, cfg, hw)
    table = tiny.layer_table()
    by_hand = [table[0].at(3, 4), table[1].at(4, 12), table[2].at(12, 12), table[3].at(12, 5)]
    r2 = estimate_layers(by_hand, hw, table=table)
    assert r.energy_j == r2.energy_j and r.latency_s == r2.latency_s
    assert [lc.gemm for lc in r.layers] == [(4, 27, 64), (12, 36, 16), (12, 9, 16), (5, 12, 1)]
    # changing slot "a" leaves the layers that do not touch it unchanged
    r3 = estimate(tiny, SubnetConfig([8, 12]), hw)
    assert r3.layers[2].energy_j == r.layers[2].energy_j
    assert r3.layers[3].energy_j == r.layers[3].energy_j
    assert r3.layers[0].energy_j > r.layers[0].energy_j


MODEL = tiny_net()
CHOICES = [list(s.allowed()) for s in MODEL.slots]


@settings(max_examples=40, deadline=None)
@given(st.tuples(*(st.sampled_from(c) for c in CHOICES)), st.integers(0, 1),
       st.sampled_from(["sot-mram", "sram", "dram-ambit", "reram"]), st.integers(1, 64))
def test_fewer_channels_never_cost_more(widths, slot, preset, active):
    hw = load_preset(preset)
    active = min(active, hw.architecture.subarrays)
    s = MODEL.slots[slot]
    if widths[slot] == s.min_channels:
        return
    smaller = list(widths)
    smaller[slot] -= s.step
    big = estimate(MODEL, SubnetConfig(widths), hw, active_subarrays=active)
    small = estimate(MODEL, SubnetConfig(smaller), hw, active_subarrays=active)
    assert small.energy_j <= big.energy_j
    assert small.latency_s <= big.latency_s
    for comp in COMPONENTS:
        assert small.energy_breakdown_j[comp] <= big.energy_breakdown_j[comp]


@settings(max_examples=30, deadline=None)
@given(st.tuples(*(st.sampled_from(c) for c in CHOICES)), st.integers(1, 2047),
       st.sampled_from(["sot-mram", "stt-mram", "sram"]))
def test_more_active_subarrays_never_slower(widths, active, preset):
    hw = load_preset(preset)
    a = estimate(MODEL, SubnetConfig(widths), hw, active_subarrays=active)
    b = estimate(MODEL, SubnetConfig(widths), hw, active_subarrays=active + 1)
    assert b.latency_s <= a.latency_s


def test_estimate_many_equals_estimate_exactly():
    hw = load_preset("sot-mram")
    import torch

    g = torch.Generator().manual_seed(0)
    cfgs = [MODEL.random_config(g) for _ in range(25)] + [MODEL.min_config()]
    for active in (None, 3):
        many = estimate_many(MODEL, cfgs, hw, active_subarrays=active)
        for i, c in enumerate(cfgs):
            r = estimate(MODEL, c, hw, active_subarrays=active)
            assert many["latency_s"][i] == r.latency_s
            assert many["energy_j"][i] == r.energy_j
            assert many["avg_power_w"][i] == r.avg_power_w
            assert many["peak_power_w"][i] == r.peak_power_w
            assert many["utilisation"][i] == r.utilisation
            assert many["macs"][i] == r.macs == MODEL.macs(c)
            for comp in COMPONENTS:
                assert many[f"energy_{comp}_j"][i] == r.energy_breakdown_j[comp]
    per_cfg = estimate_many(MODEL, cfgs[:3], hw, active_subarrays=np.array([1, 2, 3]))
    for i, a in enumerate([1, 2, 3]):
        assert per_cfg["latency_s"][i] == estimate(MODEL, cfgs[i], hw, active_subarrays=a).latency_s


def test_estimate_many_rejects_bad_configs():
    hw = load_preset("sot-mram")
    with pytest.raises(ValueError, match="slot 'b'"):
        estimate_many(MODEL, [[8, 5]], hw)
    with pytest.raises(ValueError, match=r"\(n_configs, 2\)"):
        estimate_many(MODEL, [[8, 6, 3]], hw)
    with pytest.raises(ValueError, match="one per config"):
        estimate_many(MODEL, [[8, 6]], hw, active_subarrays=np.array([1, 2]))


def test_resnet20_sanity():
    from dynpim.models import create_model

    m = create_model("resnet20", num_classes=10, in_channels=1)
    hw = load_preset("sot-mram")
    full = estimate(m, m.max_config(), hw, input_size=(1, 28, 28))
    half = estimate(m, SubnetConfig.uniform(m, 0.5), hw, input_size=(1, 28, 28))
    assert full.fits and full.macs == m.macs(m.max_config(), (1, 28, 28))
    assert half.energy_j < 0.5 * full.energy_j  # MACs fall ~4x at half width
    gated = estimate(m, m.max_config(), hw, input_size=(1, 28, 28), active_subarrays=16)
    assert gated.latency_s > full.latency_s and gated.avg_power_w < full.avg_power_w
    d = full.to_dict()
    assert d["layers"][0]["counts"]["senses"] == full.layers[0].counts.senses
