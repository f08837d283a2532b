"""Many sub-net configs at once: the same formulas as :func:`estimate`, on (configs x layers)
arrays, for search and operating-table construction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..nn import SubnetConfig, widths_matrix
from .bits import model_bits
from .cost import idle_power_w, layer_costs, resolve_active, totals
from .dataflow import DEFAULT_MAPPING, gemm_arrays, map_model
from .hardware import Hardware


def configs_array(model, configs) -> np.ndarray:
    """(n_configs, n_slots) int64 array from SubnetConfigs, lists or an array; validated."""
    if isinstance(configs, np.ndarray):
        arr = configs.astype(np.int64, copy=False)
    else:
        arr = np.array([c.widths if isinstance(c, SubnetConfig) else tuple(c) for c in configs],
                       dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != len(model.slots):
        raise ValueError(f"configs must be (n_configs, {len(model.slots)}) widths, got shape "
                         f"{arr.shape}")
    for j, slot in enumerate(model.slots):
        col = arr[:, j]
        bad = (col < slot.min_channels) | (col > slot.max_channels) | (col % slot.step != 0)
        if bad.any():
            raise ValueError(f"slot {slot.name!r}: width {int(col[bad][0])} not allowed; allowed "
                             f"range is {slot.min_channels}..{slot.max_channels} in steps of "
                             f"{slot.step}")
    return arr


def estimate_many(model, configs, hw: Hardware, input_size: Sequence[int] | None = None,
                  active_subarrays=None, *, wbits: int | None = None,
                  abits: int | None = None,
                  mapping: str = DEFAULT_MAPPING) -> dict[str, np.ndarray]:
    """Per-inference cost of every config: a dict of (n_configs,) float arrays with keys
    ``latency_s, energy_j, avg_power_w, peak_power_w, idle_power_w, utilisation,
    column_utilisation, energy_<component>_j`` (components: ``dynpim.pim.COMPONENTS``), plus
    ``macs`` and ``active_subarrays``. ``active_subarrays`` may be one int or one per config.
    Bits per layer as in :func:`dynpim.pim.estimate`."""
    arr = configs_array(model, configs)
    a = resolve_active(hw, active_subarrays)
    if a.ndim:
        if a.shape != (arr.shape[0],):
            raise ValueError(f"active_subarrays must be one int or one per config "
                             f"({arr.shape[0]}), got shape {a.shape}")
        a = a[:, None]
    table = model.layer_table(input_size)
    bits = model_bits(model, table, hw, wbits, abits)
    mp = map_model(table, hw, bits.placed_wbits, mapping)
    cin, cout = widths_matrix(table, arr)
    m, k, n, g = gemm_arrays(table, cin, cout)
    out = totals(layer_costs(m, k, n, g, mp, hw, bits, a))
    out["idle_power_w"] = np.full(arr.shape[0], idle_power_w(hw, mp))
    out["macs"] = (m * k * n).sum(axis=-1)
    out["active_subarrays"] = np.broadcast_to(a.reshape(-1), (arr.shape[0],)).copy()
    return out
