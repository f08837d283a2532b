import pytest
from pim_helpers import simple_dict

from dynpim.pim import hardware_from_dict, list_presets, load_preset, preset_names
from dynpim.pim.hardware import convert


def test_all_presets_load_with_sources():
    assert set(preset_names()) == {"sot-mram", "stt-mram", "reram", "sram", "dram-ambit"}
    for name in preset_names():
        hw = load_preset(name)
        assert hw.name == name
        assert all(src for src in hw.sources.values())
        # every parameter of every section, plus the optional cell section of the MTJ presets
        assert len(hw.sources) == (40 if hw.cell is not None else 35)
        assert hw.area_m2 > 0 and hw.cycle_s > 0
    rows = {r["name"]: r for r in list_presets()}
    assert any("NVSim" in s for s in rows["stt-mram"]["sources"])
    assert any("Ambit" in s for s in rows["dram-ambit"]["sources"])


def test_units_convert_to_si():
    hw = load_preset("sot-mram")
    assert hw.device.sense_latency_s == pytest.approx(1.276e-9)
    assert hw.cell.resistance_on_ohm == 2000 and hw.cell.switching_current_a == pytest.approx(85e-6)
    assert convert(3, "kohm", "resistance", "x") == 3000
    assert convert(2, "mV", "voltage", "x") == pytest.approx(2e-3)
    assert hw.device.node_m == pytest.approx(45e-9)
    assert hw.architecture.buffer_bits == 64 * 8192
    assert hw.subarray.leakage_power_w == pytest.approx(2.015e-6)
    assert hw.subarray.row_activation_energy_j == pytest.approx(0.25e-12)
    assert hw.subarray.column_gating is False
    assert hw.architecture.wire_energy_j_per_bit_m == pytest.approx(0.15e-12 / 1e-3)
    assert hw.architecture.subarrays == 512
    # the bus runs one side of the (square) chip: energy per bit = wire energy x length
    assert hw.bus_energy_j_per_bit == pytest.approx(0.15e-12 * hw.area_m2 ** 0.5 / 1e-3)
    assert convert(2, "pJ/bit/mm", "energy/bit/length", "x") == pytest.approx(2e-9)
    assert convert(True, "bool", "bool", "x") == 1.0
    amb = load_preset("dram-ambit")
    # 4.330 nJ per KB (1024 bytes) -> per bit
    assert amb.device.sense_energy_j_per_bit == pytest.approx(4.330e-9 / 8192)
    assert convert(2, "uJ", "energy", "x") == pytest.approx(2e-6)
    assert convert(1, "µs", "time", "x") == pytest.approx(1e-6)


@pytest.mark.parametrize("overrides,match", [
    ({"device__sense_latency": 0}, r"device.sense_latency: must be finite and > 0"),
    ({"device__write_energy": -1}, r"device.write_energy"),
    ({"subarray__rows": 2.5}, r"subarray.rows: must be an integer"),
    ({"subarray__reserved_rows": 9}, r"reserved_rows"),
    ({"quantization__wbits": 20}, r"quantization.wbits must be in 1..16"),
    ({"subarray__row_activation_energy": 0}, r"subarray.row_activation_energy: must be"),
    ({"subarray__row_activation_energy": -1}, r"subarray.row_activation_energy: must be"),
    ({"subarray__column_gating": 1}, r"subarray.column_gating: must be \{value: true\|false"),
    ({"subarray__column_gating": "yes"}, r"subarray.column_gating: must be"),
    ({"architecture__wire_energy": 0}, r"architecture.wire_energy: must be finite and > 0"),
])
def test_bad_values_name_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        hardware_from_dict(simple_dict(**overrides), "t")


def _set(section, key, field, value):
    def edit(d):
        d[section][key][field] = value
    return edit


def _drop(section, key):
    def edit(d):
        del d[section][key]
    return edit


def _add(section, key, entry):
    def edit(d):
        d.setdefault(section, {})[key] = entry
    return edit


CELL = {"read_voltage": (0.1, "V"), "access_drop": (0.15, "V"), "resistance_on": (2, "kohm"),
        "resistance_off": (5, "kohm"), "switching_current": (80, "uA")}


def _cell(**changes):
    def edit(d):
        d["cell"] = {k: {"value": v, "unit": u, "source": "t"} for k, (v, u) in CELL.items()}
        for key, value in changes.items():
            if value is None:
                del d["cell"][key]
            else:
                d["cell"][key].update(value)
    return edit


@pytest.mark.parametrize("edit,match", [
    (_set("device", "sense_latency", "unit", "pJ"),
     r"device.sense_latency: unit 'pJ' is not a time unit"),
    (_set("architecture", "wire_energy", "unit", "pJ/bit"),
     r"architecture.wire_energy: unit 'pJ/bit' is not"),
    (_set("architecture", "wire_energy", "unit", "pJ/bit/s"), r"per-s not allowed"),
    (_set("subarray", "column_gating", "unit", "1"), r"subarray.column_gating: must be"),
    (_drop("subarray", "row_activation_energy"), r"subarray.row_activation_energy: missing"),
    (_drop("subarray", "column_gating"), r"subarray.column_gating: missing"),
    (_drop("subarray", "cols"), r"subarray.cols: missing"),
    (_add("architecture", "bus_energy", {"value": 1, "unit": "pJ/bit", "source": "v1"}),
     r"unknown parameter.*bus_energy"),
    (_add("device", "typo", {"value": 1, "unit": "ns", "source": "x"}),
     r"unknown parameter.*typo"),
    (_set("device", "sense_energy", "source", ""), r"device.sense_energy: source"),
    (_cell(), r"cell.read_voltage .* must exceed cell.access_drop"),
    (_cell(read_voltage={"value": 0.2, "unit": "uA"}),
     r"cell.read_voltage: unit 'uA' is not a voltage unit"),
    (_cell(read_voltage={"value": 0.2}, switching_current=None),
     r"cell.switching_current: missing"),
    (_drop("architecture", "clock"), r"architecture.clock: missing"),
])
def test_wrong_unit_missing_and_unknown_fields(edit, match):
    d = simple_dict()
    edit(d)
    with pytest.raises(ValueError, match=match):
        hardware_from_dict(d, "t")


def test_missing_section_and_valid_cell():
    d = simple_dict()
    del d["architecture"]
    with pytest.raises(ValueError, match=r"section 'architecture' missing"):
        hardware_from_dict(d, "t")
    d = simple_dict()
    _cell(read_voltage={"value": 0.2})(d)
    hw = hardware_from_dict(d, "t")
    assert hw.cell.read_current_a == pytest.approx(0.05 / 2000)


def test_load_preset_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown hardware preset 'nope'"):
        load_preset("nope")
    with pytest.raises(FileNotFoundError):
        load_preset(str(tmp_path / "missing.yaml"))
    import yaml

    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(simple_dict()))
    assert load_preset(str(p)).subarray.cols == 4


def test_with_bits():
    hw = load_preset("sot-mram").with_bits(4, 2)
    assert (hw.quantization.wbits, hw.quantization.abits) == (4, 2)
    with pytest.raises(ValueError, match="wbits"):
        load_preset("sot-mram").with_bits(wbits=17)
