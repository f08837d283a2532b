"""The presets' NVSim-derived numbers equal the documented formulas applied to the committed
derivation (tools/nvsim/derived.json), without NVSim installed; the SOT cell is consistent."""

import json
from pathlib import Path

import pytest

from dynpim.pim import load_preset
from dynpim.pim.hardware import Hardware
from dynpim.pim.nvsim import DERIVED_KEYS, preset_values, row_access

ROOT = Path(__file__).resolve().parents[2]
DERIVED = json.loads((ROOT / "tools" / "nvsim" / "derived.json").read_text())
FIELDS = {"device.read_latency": "read_latency_s", "device.read_energy": "read_energy_j_per_bit",
          "device.sense_latency": "sense_latency_s",
          "device.sense_energy": "sense_energy_j_per_bit",
          "device.write_latency": "write_latency_s",
          "device.write_energy": "write_energy_j_per_bit",
          "subarray.row_activation_energy": "row_activation_energy_j",
          "subarray.leakage_power": "leakage_power_w",
          "subarray.periphery_area": "periphery_area_m2"}


def _value(hw: Hardware, key: str) -> float:
    sec, _ = key.split(".")
    return getattr(getattr(hw, sec), FIELDS[key])


@pytest.mark.parametrize("name", ["sot-mram", "stt-mram", "sram"])
def test_presets_equal_the_formulas_on_the_derivation(name):
    hw = load_preset(name)
    tech = DERIVED["results"][name]
    fig = tech["one_row"]["derive"]
    assert (fig["rows"], fig["cols"]) == (hw.subarray.rows, hw.subarray.cols)
    assert tech["cell_area_f2"] == hw.device.cell_area_f2
    expected = preset_values(tech, hw.device.node_m)
    assert set(expected) == set(DERIVED_KEYS)
    for key, value in expected.items():
        assert _value(hw, key) == pytest.approx(value, rel=1e-3), key  # 4 significant digits
        assert "tools/nvsim/derived.json" in hw.sources[key], key


def test_sot_mram_has_few_assumptions_and_a_safe_read():
    hw = load_preset("sot-mram")
    assumed = [k for k, v in hw.sources.items() if v.lower().startswith("assumption")]
    assert len(assumed) <= 10, assumed
    c = hw.cell
    # the read current through R_P stays below the cell's switching current, with margin
    assert c.read_current_a == pytest.approx((0.2 - 0.15) / 2000)
    assert c.read_current_a < c.switching_current_a / 3
    both_low, mixed, both_high = c.and_levels_a()
    assert both_low > mixed > both_high  # three distinguishable two-row levels
    assert stt_read_is_safe()


def stt_read_is_safe() -> bool:
    c = load_preset("stt-mram").cell
    return c.read_current_a < c.switching_current_a


def test_reram_is_recorded_as_not_derivable():
    assert "invalid" in DERIVED["results"]["reram"]["one_row"]["derive"]
    with pytest.raises(ValueError, match="no NVSim figures"):
        preset_values(DERIVED["results"]["reram"], 45e-9)


def test_row_access_energy():
    fig = DERIVED["results"]["sot-mram"]["one_row"]["derive"]
    dec = fig["row_decoder_j"] + fig["predecoder_j"]
    assert row_access(fig, "write") == pytest.approx(fig["bitline_cell_write_j"] + dec)
    assert row_access(fig, "read") == pytest.approx(
        fig["bitline_cell_read_j"] + fig["senseamp_j"] + fig["precharge_j"] + dec)
    with pytest.raises(ValueError, match="kind must be"):
        row_access(fig, "erase")
