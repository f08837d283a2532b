"""Helpers of the pim tests: a hardware description with round numbers, and tiny dynamic models."""

from __future__ import annotations

import copy

from torch import nn

from dynpim.nn import DynamicConv2d, DynamicLinear, DynamicNet, Slot

UNITS = {"time": "ns", "energy": "pJ", "energy/bit": "pJ/bit", "power": "uW", "length": "nm",
         "area": "um^2", "area_f2": "F^2", "frequency": "GHz", "count": "1", "bits": "KiB",
         "energy/bit/length": "pJ/bit/mm", "bool": "bool"}

SIMPLE = {
    "name": "simple", "technology": "test", "description": "round numbers for hand counts",
    "device": {"node": 1, "cell_area": 1, "read_latency": 1, "read_energy": 1,
               "sense_latency": 1, "sense_energy": 1, "write_latency": 1, "write_energy": 1,
               "retention_power": 1},
    "subarray": {"rows": 9, "cols": 4, "reserved_rows": 1, "popcount_latency": 1,
                 "popcount_energy": 1, "shift_add_latency": 1, "shift_add_energy": 1,
                 "accumulator_bits": 32, "row_activation_energy": 1, "column_gating": False,
                 "leakage_power": 1, "periphery_area": 1,
                 "wakeup_latency": 1, "wakeup_energy": 1},
    "architecture": {"banks": 1, "mats_per_bank": 1, "subarrays_per_mat": 64,
                     "buffer_capacity": 1, "buffer_energy": 1, "buffer_area": 1,
                     "bus_width": 256, "wire_energy": 1, "clock": 1, "static_power": 1000},
    "quantization": {"wbits": 2, "abits": 2},
}
DIMS = {"device": {"node": "length", "cell_area": "area_f2", "retention_power": "power"},
        "subarray": {"leakage_power": "power", "periphery_area": "area",
                     "row_activation_energy": "energy", "column_gating": "bool"},
        "architecture": {"buffer_capacity": "bits", "buffer_area": "area", "clock": "frequency",
                         "static_power": "power", "wire_energy": "energy/bit/length"}}


def simple_dict(**overrides) -> dict:
    """SIMPLE as YAML-shaped data; ``overrides`` like ``subarray__cols=8``."""
    out = copy.deepcopy({k: v for k, v in SIMPLE.items() if isinstance(v, str)})
    for sec in ("device", "subarray", "architecture", "quantization"):
        out[sec] = {}
        for key, value in SIMPLE[sec].items():
            value = overrides.get(f"{sec}__{key}", value)
            dim = DIMS.get(sec, {}).get(key)
            if dim is None:
                dim = ("energy/bit" if key.endswith("_energy") and key not in
                       ("shift_add_energy", "wakeup_energy") else
                       "energy" if key.endswith("energy") else
                       "time" if key.endswith("latency") else "count")
            out[sec][key] = {"value": value, "unit": UNITS[dim], "source": "test"}
    return out


def tiny_net() -> DynamicNet:
    """conv(3->a) -> conv(a->b, stride 2) -> depthwise(b) -> linear(b->5), two slots."""
    slots = [Slot("a", 8, 2, 2), Slot("b", 12, 3, 3)]
    body = nn.Sequential(
        DynamicConv2d(3, 8, 3, padding=1, out_slot="a"),
        nn.ReLU(),
        DynamicConv2d(8, 12, 3, stride=2, padding=1, in_slot="a", out_slot="b"),
        DynamicConv2d(12, 12, 3, padding=1, depthwise=True, in_slot="b", out_slot="b"),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        DynamicLinear(12, 5, in_slot="b"),
    )
    return DynamicNet(body, slots, name="tiny", input_size=(3, 8, 8))
