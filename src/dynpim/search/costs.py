"""Cost of many sub-net configs at once: MACs (always) and, given a PIM hardware description,
modelled PIM energy and latency from ``dynpim.pim.estimate_many`` (one vectorised call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dynpim.nn import DynamicNet, SubnetConfig

# search cost name -> key in the cost dict
COST_KEYS = {"energy": "energy_j", "latency": "latency_s", "macs": "macs"}

CostFn = Callable[[Sequence[SubnetConfig]], dict[str, np.ndarray]]


def macs_many(model: DynamicNet, configs: Sequence[SubnetConfig],
              input_size: Sequence[int] | None = None) -> np.ndarray:
    """MACs of every config (int64), vectorised over configs; equals ``model.macs(cfg)`` (both
    read the model's :class:`dynpim.nn.LayerTable`)."""
    return model.layer_table_at(input_size).macs(configs)


def make_cost_fn(model: DynamicNet, hw: Any | None = None, *,
                 input_size: Sequence[int] | None = None,
                 active_subarrays: int | None = None) -> CostFn:
    """``cost_fn(configs) -> {"macs", ["energy_j", "latency_s", "avg_power_w", ...]}`` arrays.

    Without ``hw`` only MACs are available (objective cost ``macs``).
    """
    size = tuple(input_size or model.input_size)

    def cost_fn(configs: Sequence[SubnetConfig]) -> dict[str, np.ndarray]:
        configs = [model.validate(c) for c in configs]
        out: dict[str, np.ndarray] = {"macs": macs_many(model, configs, size)}
        if hw is not None:
            from dynpim import pim

            r = pim.estimate_many(model, configs, hw, input_size=size,
                                  active_subarrays=active_subarrays)
            for k in ("energy_j", "latency_s", "avg_power_w", "peak_power_w"):
                if k in r:
                    out[k] = np.asarray(r[k], dtype=np.float64).reshape(len(configs))
        return out

    return cost_fn


def cost_key(cost: str) -> str:
    """Key of the cost dict for a cost name (``energy`` | ``latency`` | ``macs``)."""
    if cost not in COST_KEYS:
        raise ValueError(f"unknown cost {cost!r}; choose one of {tuple(COST_KEYS)}")
    return COST_KEYS[cost]
