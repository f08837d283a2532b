"""Model registry: ``create_model(name, **kwargs)`` and ``list_models()`` (timm-style)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dynpim.nn import DynamicNet

Builder = Callable[..., DynamicNet]
_BUILDERS: dict[str, Builder] = {}


def register_model(fn: Builder) -> Builder:
    """Register a keyword-only builder under its function name."""
    if fn.__name__ in _BUILDERS:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    _BUILDERS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_BUILDERS)


def create_model(name: str, **kwargs: Any) -> DynamicNet:
    """Build a registered dynamic model at max width; ``model.name``/``model.args`` record the
    call so checkpoints can rebuild it. ``precisions=[(wbits, abits), ...]`` (quantized models)
    adds lower precisions to switch to at run time (``DynamicNet.add_precisions``);
    ``bn_per_precision=True`` gives each of them BN scales and shifts of its own."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    builder = _BUILDERS[name]
    precisions = kwargs.pop("precisions", None)
    bn_per_precision = bool(kwargs.pop("bn_per_precision", False))
    allowed = set(inspect.signature(builder).parameters)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(f"model {name!r} does not take {unknown}; it takes "
                         f"{sorted(allowed | {'precisions', 'bn_per_precision'})}")
    model = builder(**kwargs)
    model.name, model.args = name, dict(kwargs)
    if bn_per_precision:
        if model.stored_precision is None:
            raise ValueError("bn_per_precision needs a quantized model (wbits=, abits=)")
        model.args["bn_per_precision"] = True
    if precisions:
        model.add_precisions(precisions)
    return model
