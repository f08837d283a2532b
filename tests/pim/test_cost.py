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
    assert r.mapping == "pixel" and r.layers[0].pixels_per_row == 1  # N = 1: nothing to pack
    # per pixel and activation bit: 1 row write + 2 weight-row senses (1 ns each) = 3 ns, x2
    # bits = 6 ns, + 2 cross-tile adds = 8 ns, + 1 wake-up = 9 ns
    assert r.latency_s == pytest.approx(9e-9)
    e = r.energy_breakdown_j
    assert e["sense"] == pytest.approx(36 * 4 * 1e-12)  # 36 senses x 4 columns, no gating
    assert e["row"] == pytest.approx((2 * 36 + 18) * 1e-12)  # two rows per AND + 18 writes
    assert e["write"] == pytest.approx(60e-12)
    assert e["compute"] == pytest.approx(120e-12 + 42e-12)
    assert e["buffer"] == pytest.approx(26e-12)  # 20 bits in, 6 out
    assert simple_hw.bus_length_m == pytest.approx(simple_hw.area_m2 ** 0.5)
    assert e["bus"] == pytest.approx(218 * 1e-12 * simple_hw.bus_length_m * 1e3)  # pJ/bit/mm
    assert e["wakeup"] == pytest.approx(9e-12)
    assert e["leakage"] == pytest.approx(9e-9 * 9e-6)
    assert e["static"] == pytest.approx(9e-9 * 1e-3)
    assert r.energy_j == pytest.approx(sum(e.values()))
    assert r.avg_power_w == pytest.approx(r.energy_j / r.latency_s) == r.peak_power_w
    assert r.area_mm2 == pytest.approx((64 * (36e-18 + 1e-12) + 1e-12) * 1e6)
    assert r.utilisation == pytest.approx(36e-9 / (9e-9 * 9))
    assert r.column_utilisation == pytest.approx(120 / 144)
    assert r.buffer_bits_needed == (10 + 3) * 2 and r.buffer_fits
    # idle power: static + retention of the 9 gated sub-arrays holding weights (volatile here)
    assert r.idle_power_w == pytest.approx(1e-3 + 9e-6)
    # 4 active sub-arrays: 3 waves of the 9, idle ones keep weights at retention power, and
    # the activations are broadcast again to each wave (3 channel sub-arrays per tile)
    r4 = estimate_layers([LIN], simple_hw, active_subarrays=4)
    assert r4.layers[0].waves == 3
    assert r4.latency_s == pytest.approx(27e-9)
    assert r4.energy_breakdown_j["leakage"] == pytest.approx(27e-9 * (4e-6 + 5e-6))
    assert r4.energy_breakdown_j["static"] == pytest.approx(27e-9 * 1e-3)
    assert r4.energy_breakdown_j["buffer"] == pytest.approx((3 * 20 + 6) * 1e-12)
    assert r4.energy_breakdown_j["sense"] == e["sense"]


def _conv1(cols):
    return LayerSpec("c", "conv", 1, 2, (3, 3), (1, 1), (1, 1), 1, (4, 4), (4, 4), None, None,
                     False)


def test_hand_computed_pixel_and_channel_mappings():
    from pim_helpers import simple_dict

    from dynpim.pim import hardware_from_dict

    hw = hardware_from_dict(simple_dict(subarray__cols=32), "wide")
    spec = _conv1(32)  # K = 9, N = 16 pixels, M = 2 channels on 2 sub-arrays, 2 x 2 bits
    px = estimate_layers([spec], hw, mapping="pixel")
    ch = estimate_layers([spec], hw, mapping="channel")
    lp, lc = px.layers[0], ch.layers[0]
    assert (lp.pixels_per_row, lc.pixels_per_row) == (3, 1)  # 32 // 9 segments side by side
    # pixel: ceil(16 / 3) = 6 sensed rows per channel, weight bit, activation bit
    assert (lp.counts.senses, lc.counts.senses) == (2 * 6 * 4, 2 * 16 * 4)
    assert lp.counts.sense_bits == lc.counts.sense_bits == 2 * 16 * 9 * 4
    assert (lp.counts.sensed_cols, lc.counts.sensed_cols) == (48 * 32, 128 * 32)
    assert lp.counts.popcounts == lc.counts.popcounts == 2 * 16 * 4  # one per pixel segment
    assert (lp.counts.row_writes, lc.counts.row_writes) == (6 * 2 * 2, 16 * 2 * 2)
    assert lp.counts.write_bits == lc.counts.write_bits == 16 * 2 * 9 * 2
    assert lp.column_utilisation == pytest.approx(1152 / 1536)
    assert lc.column_utilisation == pytest.approx(1152 / 4096)
    # 6 rows x 2 bits x (1 write + 2 weight rows) + wake-up = 37 ns; channel: 16 rows -> 97 ns
    assert px.latency_s == pytest.approx(37e-9) and ch.latency_s == pytest.approx(97e-9)
    assert px.energy_breakdown_j["sense"] == pytest.approx(1536e-12)
    assert px.energy_breakdown_j["row"] == pytest.approx((2 * 48 + 24) * 1e-12)
    gated = hardware_from_dict(simple_dict(subarray__cols=32, subarray__column_gating=True), "g")
    assert estimate_layers([spec], gated).energy_breakdown_j["sense"] == pytest.approx(1152e-12)
    with pytest.raises(ValueError, match="mapping must be one of pixel, channel"):
        estimate_layers([spec], hw, mapping="row")


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
    for comp in COMPONENTS:  # equal components may differ in the last bit (summation order)
        assert small.energy_breakdown_j[comp] <= big.energy_breakdown_j[comp] * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(st.tuples(*(st.sampled_from(c) for c in CHOICES)), st.integers(1, 511),
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
            assert many["column_utilisation"][i] == r.column_utilisation
            assert many["idle_power_w"][i] == r.idle_power_w
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


def test_resnet20_narrower_is_faster_at_full_power():
    """The physical expectation: on the default (IoT-sized) chip a sub-array holds several
    channels sensed one after another, so a narrower sub-net needs fewer time-shared passes."""
    from dynpim.models import create_model

    m = create_model("resnet20", num_classes=10, in_channels=1)
    hw = load_preset("sot-mram")
    kw = dict(input_size=(1, 28, 28), wbits=8, abits=8)
    quarter = estimate(m, SubnetConfig.uniform(m, 0.25), hw, **kw)
    full = estimate(m, m.max_config(), hw, **kw)
    assert quarter.active_subarrays == full.active_subarrays == hw.architecture.subarrays
    assert quarter.latency_s <= 0.6 * full.latency_s
    assert full.channels_per_subarray == 4
    # stage-3 convs: 64 channels on 16 sub-arrays per tile -> 4 passes; 16 channels -> 1
    assert full.layers[-2].passes == 4 and quarter.layers[-2].passes == 1


def test_layers_run_at_the_models_bits():
    from dynpim.models import create_model

    q = create_model("resnet20", num_classes=10, in_channels=1, wbits=4, abits=4)
    hw = load_preset("sot-mram")
    r = estimate(q, q.max_config(), hw, input_size=(1, 28, 28))
    first, second = r.layers[0], r.layers[1]
    assert (first.wbits, first.abits) == (4, 8)  # the input quantizer's 8-bit codes
    assert (second.wbits, second.abits) == (4, 4) and (r.wbits, r.abits) == (4, 4)
    assert all((lc.wbits, lc.abits) == (4, 4) for lc in r.layers[1:])
    # the first layer's cost follows: 8 activation planes x 4 weight planes
    m, k, n = first.gemm
    assert first.counts.sense_bits == m * n * k * 8 * 4
    # a float model costed at W4/A4 reads the image at the same 8 bits
    f = create_model("resnet20", num_classes=10, in_channels=1)
    rf = estimate(f, f.max_config(), hw, input_size=(1, 28, 28), wbits=4, abits=4)
    assert rf.latency_s == r.latency_s and rf.energy_j == r.energy_j
    many = estimate_many(q, [q.max_config()], hw, input_size=(1, 28, 28))
    assert many["latency_s"][0] == r.latency_s
    # explicit bits override the model's weights and inner activations, never the input
    r2 = estimate(q, q.max_config(), hw, input_size=(1, 28, 28), wbits=2, abits=2)
    assert (r2.layers[0].wbits, r2.layers[0].abits, r2.layers[1].abits) == (2, 8, 2)


@settings(max_examples=30, deadline=None)
@given(st.tuples(*(st.sampled_from(c) for c in CHOICES)), st.integers(1, 7), st.integers(1, 7),
       st.sampled_from(["wbits", "abits"]), st.sampled_from(["pixel", "channel"]))
def test_more_bits_never_faster(widths, wbits, abits, which, mapping):
    hw = load_preset("sot-mram")
    lo = estimate(MODEL, SubnetConfig(widths), hw, wbits=wbits, abits=abits, mapping=mapping)
    more = {"wbits": wbits + (which == "wbits"), "abits": abits + (which == "abits")}
    hi = estimate(MODEL, SubnetConfig(widths), hw, mapping=mapping, **more)
    assert hi.latency_s >= lo.latency_s and hi.energy_j >= lo.energy_j


def test_pixel_mapping_never_worse_than_channel():
    from dynpim.models import create_model

    hw = load_preset("sot-mram")
    for name in ("resnet20", "mobilenet_v1", "lenet"):
        m = create_model(name, num_classes=10, in_channels=1, image_size=28)
        for cfg in (m.min_config(), m.max_config()):
            px = estimate(m, cfg, hw, input_size=(1, 28, 28), mapping="pixel")
            ch = estimate(m, cfg, hw, input_size=(1, 28, 28), mapping="channel")
            assert px.latency_s <= ch.latency_s and px.energy_j <= ch.energy_j
            assert px.column_utilisation >= ch.column_utilisation
            assert px.mapped_subarrays == ch.mapped_subarrays  # replicas use empty columns


def test_average_power_at_an_inference_rate(tiny):
    hw = load_preset("sot-mram")
    r = estimate(tiny, tiny.max_config(), hw)
    assert r.idle_power_w == pytest.approx(hw.architecture.static_power_w)  # non-volatile
    assert r.power_at(0) == pytest.approx(r.idle_power_w)
    assert r.power_at(r.max_rate_hz) == pytest.approx(r.avg_power_w)
    rate = 0.5 * r.max_rate_hz
    assert r.power_at(rate) == pytest.approx(rate * r.energy_j + 0.5 * r.idle_power_w)
    with pytest.raises(ValueError, match="rate_hz must be in"):
        r.power_at(2 * r.max_rate_hz)
    sram = estimate(tiny, tiny.max_config(), load_preset("sram"))
    assert sram.idle_power_w > hw.architecture.static_power_w  # volatile cells retain weights


def test_power_cap_throttles():
    """Fewer powered sub-arrays: lower power while computing, longer latency; the energy per
    inference rises only by the static energy of the longer run and the re-broadcasts."""
    from dynpim.models import create_model

    m = create_model("resnet20", num_classes=10, in_channels=1)
    hw = load_preset("sot-mram")
    full = estimate(m, m.max_config(), hw, input_size=(1, 28, 28))
    capped = estimate(m, m.max_config(), hw, input_size=(1, 28, 28), active_subarrays=32)
    assert capped.avg_power_w < full.avg_power_w and capped.latency_s > full.latency_s
    extra = capped.energy_j - full.energy_j
    parts = {c: capped.energy_breakdown_j[c] - full.energy_breakdown_j[c] for c in COMPONENTS}
    assert parts["sense"] == parts["write"] == parts["compute"] == 0
    assert extra == pytest.approx(sum(parts.values()))
    assert parts["static"] > 0 and parts["buffer"] > 0  # longer run, activations re-sent
