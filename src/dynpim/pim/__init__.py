"""SOT-MRAM bit-wise processing-in-memory: hardware presets, dataflow, cost model and a
bit-exact functional engine (see docs/pim-model.md)."""

from .bits import LayerBits, model_bits
from .cost import COMPONENTS, LayerCost, PimResult, estimate, estimate_layers
from .dataflow import (
    DEFAULT_MAPPING,
    MAPPINGS,
    Mapping,
    OpCounts,
    layer_ops,
    layer_schedule,
    map_model,
    subarrays_needed,
)
from .engine import bitwise_conv2d, bitwise_linear
from .execute import execute
from .fit import fit_hardware
from .hardware import Architecture, Device, Hardware, Quantization, Subarray, hardware_from_dict
from .many import estimate_many
from .presets import DEFAULT_PRESET, list_presets, load_preset, preset_names

__all__ = [
    "COMPONENTS",
    "DEFAULT_MAPPING",
    "DEFAULT_PRESET",
    "MAPPINGS",
    "Architecture",
    "Device",
    "Hardware",
    "LayerBits",
    "LayerCost",
    "Mapping",
    "OpCounts",
    "PimResult",
    "Quantization",
    "Subarray",
    "bitwise_conv2d",
    "bitwise_linear",
    "estimate",
    "estimate_layers",
    "estimate_many",
    "execute",
    "fit_hardware",
    "hardware_from_dict",
    "layer_ops",
    "layer_schedule",
    "list_presets",
    "load_preset",
    "map_model",
    "model_bits",
    "preset_names",
    "subarrays_needed",
]
