"""Old import path of the fake quantizers: they live in :mod:`dynpim.quant` (issue 19). A thin
alias kept because earlier docs and user code import from here; new code imports
``dynpim.quant``."""

from dynpim.quant.quantizers import (
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
    weight_codes,
    weight_codes_at,
    weight_qrange,
)

__all__ = [
    "FLOAT_BITS",
    "VALID_BITS",
    "ActQuant",
    "InputQuant",
    "QuantDynamicConv2d",
    "QuantDynamicLinear",
    "affine_codes",
    "check_bits",
    "exact_float32",
    "fake_quant_weight",
    "load_float_weights",
    "round_ste",
    "weight_codes",
    "weight_codes_at",
    "weight_qrange",
]
