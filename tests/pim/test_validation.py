"""The validation figures quoted in docs/pim-model.md section 7 (kept true by this test)."""

import pytest

from dynpim.nn import LayerSpec
from dynpim.pim import estimate_layers, load_preset


def _conv(name, cin, cout, k, s, p, g, hin, hout):
    return LayerSpec(name, "conv", cin, cout, (k, k), (s, s), (p, p), g, (hin, hin),
                     (hout, hout), None, None, False)


def _fc(name, cin, cout):
    return LayerSpec(name, "linear", cin, cout, (1, 1), (1, 1), (0, 0), 1, (1, 1), (1, 1),
                     None, None, False)


ALEXNET = [
    _conv("conv1", 3, 96, 11, 4, 0, 1, 227, 55), _conv("conv2", 96, 256, 5, 1, 2, 2, 27, 27),
    _conv("conv3", 256, 384, 3, 1, 1, 1, 13, 13), _conv("conv4", 384, 384, 3, 1, 1, 2, 13, 13),
    _conv("conv5", 384, 256, 3, 1, 1, 2, 13, 13), _fc("fc6", 9216, 4096),
    _fc("fc7", 4096, 4096), _fc("fc8", 4096, 1000),
]


def test_alexnet_imce_comparison_numbers():
    hw = load_preset("sot-mram")
    assert sum(s.macs for s in ALEXNET) == 724_406_816
    quoted = {(1, 1): 92.9e-6, (1, 2): 160e-6, (2, 2): 289e-6, (1, 4): 295e-6, (4, 4): 1068e-6}
    for (wb, ab), energy in quoted.items():
        r = estimate_layers(ALEXNET, hw, wbits=wb, abits=ab)
        assert r.fits
        assert r.energy_j == pytest.approx(energy, rel=5e-3)


def test_ambit_and_energy_per_kilobyte():
    amb = load_preset("dram-ambit")
    assert 8192 * amb.device.sense_energy_j_per_bit == pytest.approx(3.2e-9)
    sot = load_preset("sot-mram")
    assert 8192 * sot.device.sense_energy_j_per_bit == pytest.approx(0.635e-9, rel=1e-3)
