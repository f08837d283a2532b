"""Preset numbers from NVSim's per-access sub-array figures (``tools/nvsim/derived.json``).

The formulas (docs/pim-model.md section 4), for the organisation the presets are derived at
(``derive``: one sub-array of ``rows x cols`` cells, one sense amplifier per column):

* ``read_energy`` per bit = (bit line & cell + sense amplifier + precharge) / cols, one row;
* ``sense_energy`` per column = the same for the two-row equivalent cell (two cells in parallel
  on each bit line), i.e. what a two-row AND sense drives; SRAM: its one-row figure;
* ``read_latency`` / ``sense_latency`` = NVSim's sub-array read latency (one / two rows);
* ``write_energy`` per bit = bit line & cell write energy / cols; ``write_latency`` = NVSim's;
* ``row_activation_energy`` = row decoder + predecoder (no column mux: one sense amplifier per
  column, so NVSim's mux-decoder figure is left out);
* ``leakage_power`` = NVSim's leakage of the sub-array (LSTP transistors);
* ``periphery_area`` = NVSim's sub-array area minus rows x cols x cell area.
"""

from __future__ import annotations

from typing import Any

#: preset keys (``section.key``) that :func:`preset_values` derives
DERIVED_KEYS: tuple[str, ...] = (
    "device.read_latency", "device.read_energy", "device.sense_latency", "device.sense_energy",
    "device.write_latency", "device.write_energy", "subarray.row_activation_energy",
    "subarray.leakage_power", "subarray.periphery_area")


def _access_energy(fig: dict[str, float]) -> float:
    return fig["bitline_cell_read_j"] + fig["senseamp_j"] + fig["precharge_j"]


def preset_values(tech: dict[str, Any], node_m: float, org: str = "derive") -> dict[str, float]:
    """SI values of :data:`DERIVED_KEYS` from one technology's entry of ``derived.json``."""
    one = tech["one_row"][org]
    if "invalid" in one:
        raise ValueError(f"no NVSim figures for this technology: {one['invalid']}")
    two = tech.get("two_row", tech["one_row"])[org]
    rows, cols = one["rows"], one["cols"]
    return {
        "device.read_latency": one["read_latency_s"],
        "device.read_energy": _access_energy(one) / cols,
        "device.sense_latency": two["read_latency_s"],
        "device.sense_energy": _access_energy(two) / cols,
        "device.write_latency": one["write_latency_s"],
        "device.write_energy": one["bitline_cell_write_j"] / cols,
        "subarray.row_activation_energy": one["row_decoder_j"] + one["predecoder_j"],
        "subarray.leakage_power": one["leakage_w"],
        "subarray.periphery_area": one["subarray_area_m2"]
        - rows * cols * tech["cell_area_f2"] * node_m ** 2,
    }


def row_access(fig: dict[str, float], kind: str) -> float:
    """NVSim's energy (J) of one whole-row ``kind`` ("read" or "write") access of a sub-array,
    decoders included, as the validation compares it with dynpim's per-bit figures."""
    dec = fig["row_decoder_j"] + fig["predecoder_j"]
    if kind == "read":
        return _access_energy(fig) + dec
    if kind == "write":
        return fig["bitline_cell_write_j"] + dec
    raise ValueError(f"kind must be 'read' or 'write', got {kind!r}")
