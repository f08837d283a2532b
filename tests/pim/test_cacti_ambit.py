"""The dram-ambit preset's DRAM energies equal the Ambit formula (tools/cacti/ambit.py) applied
to the committed CACTI derivation (tools/cacti/derived.json), without CACTI installed."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from dynpim.pim import load_preset
from dynpim.pim.hardware import Hardware

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "cacti"))
import ambit  # noqa: E402

_spec = importlib.util.spec_from_file_location("cacti_derive",
                                               ROOT / "tools" / "cacti" / "derive.py")
derive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(derive)

DERIVED = json.loads((ROOT / "tools" / "cacti" / "derived.json").read_text())
FIG = DERIVED["cacti"]
# preset key -> (Hardware attribute, SI -> preset unit)
FIELDS = {"device.read_energy": ("read_energy_j_per_bit", 8192e9),
          "device.write_energy": ("write_energy_j_per_bit", 8192e9),
          "device.sense_energy": ("sense_energy_j_per_bit", 8192e9),
          "device.retention_power": ("retention_power_w", 1e6)}


def _value(hw: Hardware, key: str) -> float:
    attr, scale = FIELDS[key]
    return getattr(hw.device, attr) * scale


def test_preset_equals_the_formula_on_the_derivation():
    hw = load_preset("dram-ambit")
    assert FIG["page_bits"] == hw.subarray.cols and FIG["rows_per_subarray"] == hw.subarray.rows
    assert FIG["node_nm"] * 1e-9 == pytest.approx(hw.device.node_m)
    expected = ambit.preset_values(FIG, hw.subarray.rows, hw.subarray.cols)
    assert set(expected) == set(FIELDS)
    for key, value in expected.items():
        assert _value(hw, key) == pytest.approx(value, rel=1e-3), key  # 4 significant digits
        assert hw.sources[key].startswith("derived"), key
        assert "tools/cacti/derived.json" in hw.sources[key], key


def test_no_preset_number_comes_from_ambits_energy_table():
    hw = load_preset("dram-ambit")
    for key, src in hw.sources.items():
        assert "3.2 nJ" not in src and "NVMain-PIM" not in src, key
    per_kb = {8192 * hw.device.sense_energy_j_per_bit, 8192 * hw.device.read_energy_j_per_bit,
              8192 * hw.device.write_energy_j_per_bit}
    for ref in (1.6e-9, 3.2e-9, 4.0e-9, 5.5e-9):
        assert not any(v == pytest.approx(ref, rel=1e-3) for v in per_kb)


def test_committed_summary_is_the_formula():
    block = DERIVED["ambit"]
    assert block["commands_j"] == pytest.approx(ambit.commands(FIG))
    for op, value in block["ops_j_per_kb"].items():
        assert value == pytest.approx(ambit.op_j_per_kb(FIG, op))
    assert block["and_or_variants_j_per_kb"] == pytest.approx(ambit.variants(FIG))
    assert block["and_or_variants_j_per_kb"]["as_derived"] == pytest.approx(
        block["ops_j_per_kb"]["and_or"])
    assert set(DERIVED["sensitivity_other_nodes"]) == {"45", "32", "22"}
    assert len(DERIVED["cacti_commit"]) == 40 and "derive.py" in DERIVED["command"]


def test_formula():
    fig = {"activation_j": 4.0, "bitline_j": 2.5, "senseamp_j": 0.5, "precharge_j": 3.0,
           "page_bits": 16384, "cell_c_f": 1e-4, "cell_vdd_v": 1.0}
    c = ambit.commands(fig)
    assert c["A2"] == pytest.approx(1.0 + 16384 * 1e-4 / 4)  # row path + a quarter of cells
    aap, ap = 4.0 + c["A2"] + 3.0, 7.0
    assert ambit.op_j_per_kb(fig, "not") == pytest.approx(2 * aap / 2)  # 2 KB page
    assert ambit.op_j_per_kb(fig, "and_or") == pytest.approx((4 * aap + 0.22 * 4.0) / 2)
    assert ambit.op_j_per_kb(fig, "xor_xnor") == pytest.approx(
        (5 * aap + 2 * ap + 3 * 0.22 * 4.0) / 2)
    assert ambit.refresh_j_per_kb(fig) == pytest.approx(ap / 2)
    with pytest.raises(ValueError, match="op must be"):
        ambit.op_j_per_kb(fig, "nor3")


def test_parse_reads_cactis_report():
    text = ("Technology size (nm): 30\nPage size (bits): 8192\nNumber of banks: 8\n"
            "# rows in subarray: 512\n# columns in subarray: 1024\n"
            "t_RCD (Row to column command delay): 8.5 ns\n"
            "t_RAS (Row access strobe latency): 20 ns\n"
            "t_RC (Row cycle): 30 ns\nt_RP (Row precharge latency): 9.5 ns\n"
            "Activation energy: 0.5 nJ\nRead energy: 0.8 nJ\nWrite energy: 0.8 nJ\n"
            "Precharge energy: 0.4 nJ\nDRAM core area: 37 mm2\n"
            "row activation bus energy (nJ): 0.09\nrow predecoder energy (nJ): 0.0002\n"
            "row decoder energy (nJ): 0.0009\nlocal wordline energy (nJ): 0.001\n"
            "bitline energy (nJ): 0.38\nsense amp energy (nJ): 0.03\n")
    fig = derive.parse(text)
    assert fig["activation_j"] == pytest.approx(0.5e-9)
    assert fig["bitline_j"] == pytest.approx(0.38e-9) and fig["page_bits"] == 8192
    assert fig["core_area_m2"] == pytest.approx(37e-6) and fig["t_rc_s"] == pytest.approx(30e-9)
    with pytest.raises(ValueError, match="no 'Activation energy'"):
        derive.parse(text.replace("Activation energy", "x"))


def test_tech_table_interpolation(tmp_path):
    for node, c in ((32, 3e-14), (22, 2e-14)):
        (tmp_path / f"{node}nm.dat").write_text(f"-dram_cell_C (F) 0 0 0 0 {c}\n")
    assert derive.tech_value(tmp_path, 30, "dram_cell_C") == pytest.approx(2.8e-14)
    assert derive.tech_value(tmp_path, 32, "dram_cell_C") == pytest.approx(3e-14)
