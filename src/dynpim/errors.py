"""User errors and the number checks every front-end shares.

:class:`DynpimError` is the base of every error a user can cause (a bad argument, a bad file,
a refused write); ``dynpim`` prints its message on one line and exits with status 2. It is a
``ValueError``, so library callers that catch ``ValueError`` keep working.
"""

from __future__ import annotations

import math
import numbers


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


__all__ = ["CheckpointError", "DynpimError", "MissingFileError", "RunDirError", "finite_real",
           "is_integer", "is_real"]
