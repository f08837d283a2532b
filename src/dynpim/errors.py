"""User errors and the number checks every front-end shares (bit widths included).

:class:`DynpimError` is the base of every error a user can cause (a bad argument, a bad file,
a refused write); ``dynpim`` prints its message on one line and exits with status 2. It is a
``ValueError``, so library callers that catch ``ValueError`` keep working.
"""

from __future__ import annotations

import math
import numbers
from typing import cast


class DynpimError(ValueError):
    """An error the user can fix: the message names the input and what is allowed."""


class RunDirError(DynpimError):
    """A run directory that a command refuses to write into (another kind, or existing)."""


class CheckpointError(DynpimError):
    """A checkpoint that is missing, incomplete, corrupt or does not fit the model."""


class MissingFileError(DynpimError, FileNotFoundError):
    """A file or folder the user named does not exist (also a ``FileNotFoundError``)."""


def is_real(v: object) -> bool:
    """True for Python and numpy real numbers (not bools, not strings)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_integer(v: object) -> bool:
    """True for Python and numpy integers (not bools)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def finite_real(v: object, name: str, *, minimum: float | None = None) -> float:
    """``v`` as a Python float; :class:`DynpimError` naming ``name`` unless it is a finite
    real number (``>= minimum`` when given). numpy scalars are accepted."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(float(v)) \
            or (minimum is not None and v < minimum):
        lim = f" >= {minimum:g}" if minimum is not None else ""
        raise DynpimError(f"{name} must be a finite number{lim}, got {v!r}")
    return float(v)


PIM_MAX_BITS = 16  # widest weight/activation the bit-serial PIM dataflow runs (cost model, engine)
MODEL_MAX_BITS = 8  # widest quantized model (dynpim.nn.quant); FLOAT_BITS stands for a float one
FLOAT_BITS = 32


def is_bits(v: object, *, max_bits: int = PIM_MAX_BITS, float_bits: bool = False) -> bool:
    """True for an integer bit width in ``1..max_bits`` (Python or numpy int, not a bool), or
    ``FLOAT_BITS`` (32) when ``float_bits``. The one bit-width rule of the package."""
    if not is_integer(v):
        return False
    b = int(cast(numbers.Integral, v))
    return 1 <= b <= max_bits or (float_bits and b == FLOAT_BITS)


def check_bits(name: str, value: object, *, max_bits: int = PIM_MAX_BITS,
               float_bits: bool = False) -> int:
    """``value`` as an int if :func:`is_bits` accepts it, else a ValueError naming ``name``:
    ``"<name> must be an int in 1..<max_bits>[ or 32 (float)], got <value!r>"``."""
    if not is_bits(value, max_bits=max_bits, float_bits=float_bits):
        also = f" or {FLOAT_BITS} (float)" if float_bits else ""
        raise ValueError(f"{name} must be an int in 1..{max_bits}{also}, got {value!r}")
    return int(cast(numbers.Integral, value))


__all__ = ["FLOAT_BITS", "MODEL_MAX_BITS", "PIM_MAX_BITS", "CheckpointError", "DynpimError",
           "MissingFileError", "RunDirError", "check_bits", "finite_real", "is_bits",
           "is_integer", "is_real"]
