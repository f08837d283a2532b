import pytest

from dynpim.models import create_model
from dynpim.pim import estimate, fit_hardware, load_preset, subarrays_needed


def test_fit_sizes_the_chip_to_the_model():
    hw = load_preset("sot-mram")
    m = create_model("resnet18", num_classes=10, in_channels=3)
    table = m.layer_table((3, 32, 32))
    need = subarrays_needed(table, hw, 8)
    assert not estimate(m, m.max_config(), hw, input_size=(3, 32, 32)).fits
    fit = fit_hardware(table, hw, 8, label="resnet18")
    per_bank = hw.architecture.mats_per_bank * hw.architecture.subarrays_per_mat
    assert fit.architecture.banks == -(-need // per_bank)
    assert fit.architecture.subarrays >= need > fit.architecture.subarrays - per_bank
    assert estimate(m, m.max_config(), fit, input_size=(3, 32, 32)).fits
    assert "resnet18" in fit.sources["architecture.banks"] and fit.name == "sot-mram-fit"
    roomy = fit_hardware(table, hw, 8, headroom=2.0)
    assert roomy.architecture.subarrays >= 2 * need
    with pytest.raises(ValueError, match="headroom must be >= 1"):
        fit_hardware(table, hw, 8, headroom=0.5)
