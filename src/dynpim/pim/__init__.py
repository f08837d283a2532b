"""SOT-MRAM bit-wise processing-in-memory: hardware presets, dataflow, cost model and a
bit-exact functional engine (see docs/pim-model.md)."""

from .cost import COMPONENTS, LayerCost, PimResult, estimate, estimate_layers
from .dataflow import OpCounts, layer_ops, layer_schedule, map_model
from .engine import bitwise_conv2d, bitwise_linear
from .execute import execute
from .hardware import Architecture, Device, Hardware, Quantization, Subarray, hardware_from_dict
from .many import estimate_many
from .presets import DEFAULT_PRESET, list_presets, load_preset, preset_names

__all__ = [
    "COMPONENTS",
    "DEFAULT_PRESET",
    "Architecture",
    "Device",
    "Hardware",
    "LayerCost",
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
    "hardware_from_dict",
    "layer_ops",
    "layer_schedule",
    "list_presets",
    "load_preset",
    "map_model",
    "preset_names",
]
