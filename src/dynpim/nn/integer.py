"""Old import path of the integer compiler and IR: they live in :mod:`dynpim.quant` (issue 19).
A thin alias kept because earlier docs and user code import from here; new code imports
``dynpim.quant``."""

from dynpim.quant.compiler import (
    fold_bn,
    integer_forward,
    quantized_subnet,
)
from dynpim.quant.ir import (
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

__all__ = [
    "Conv",
    "ConvFn",
    "Dequantize",
    "Flatten",
    "Linear",
    "LinearFn",
    "MaxPool",
    "Op",
    "QuantizeInput",
    "QuantizedSubnet",
    "Requant",
    "SumPool",
    "fold_bn",
    "int_conv2d",
    "int_linear",
    "integer_forward",
    "quantized_subnet",
    "run_program",
]
