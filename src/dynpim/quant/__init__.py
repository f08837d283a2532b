"""Quantization and the integer IR: fake quantizers and quantized dynamic layers
(:mod:`.quantizers`, with the run-time precision's weight truncation), their ONNX QDQ forms
(:mod:`.qdq`), the integer IR and its interpreter (:mod:`.ir`) and the compiler from a quantized
sub-net to it, with the reference integer path (:mod:`.compiler`).

Sits on :mod:`dynpim.nn` (the quantized layers are dynamic layers; the compiler reads a
``DynamicNet``); ``models`` build with it and ``pim`` executes its IR. It never imports ``pim``,
``train``, ``search`` or ``runtime``.
"""

from .compiler import (
    fold_bn,
    integer_forward,
    quantized_subnet,
)
from .ir import (
    Conv,
    ConvFn,
    Dequantize,
    Flatten,
    Linear,
    LinearFn,
    MaxPool,
    Op,
    QuantizedSubnet,
    QuantizeInput,
    Requant,
    SumPool,
    int_conv2d,
    int_linear,
    run_program,
)
from .quantizers import (
    FLOAT_BITS,
    VALID_BITS,
    ActQuant,
    InputQuant,
    QuantDynamicConv2d,
    QuantDynamicLinear,
    affine_codes,
    check_bits,
    exact_float32,
    fake_quant_weight,
    load_float_weights,
    round_ste,
    sensed_weight_bits,
    truncate_codes,
    weight_codes,
    weight_codes_at,
    weight_qrange,
)

__all__ = [
    "FLOAT_BITS",
    "VALID_BITS",
    "ActQuant",
    "Conv",
    "ConvFn",
    "Dequantize",
    "Flatten",
    "InputQuant",
    "Linear",
    "LinearFn",
    "MaxPool",
    "Op",
    "QuantDynamicConv2d",
    "QuantDynamicLinear",
    "QuantizeInput",
    "QuantizedSubnet",
    "Requant",
    "SumPool",
    "affine_codes",
    "check_bits",
    "exact_float32",
    "fake_quant_weight",
    "fold_bn",
    "int_conv2d",
    "int_linear",
    "integer_forward",
    "load_float_weights",
    "quantized_subnet",
    "round_ste",
    "run_program",
    "sensed_weight_bits",
    "truncate_codes",
    "weight_codes",
    "weight_codes_at",
    "weight_qrange",
]
