"""Many sub-net configs at once, for search and operating-table construction: the configs are
validated into a (configs x slots) array and run through the same
:func:`dynpim.pim.cost.network_costs` as :func:`dynpim.pim.estimate`. The result is a
:class:`CostArrays` record (one numpy array per field, one entry per config; defined in
``cost.py``, re-exported here); ``.row(i)`` is one config's :class:`CostRow`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..nn import SubnetConfig, widths_matrix
from .bits import model_bits
from .cost import CostArrays, CostRow, network_costs, resolve_active
from .dataflow import DEFAULT_MAPPING
from .hardware import Hardware

__all__ = ["CostArrays", "CostRow", "configs_array", "estimate_many"]


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
                  mapping: str = DEFAULT_MAPPING) -> CostArrays:
    """Per-inference cost of every config as a :class:`CostArrays` (``.row(i)``: config
    ``i``, bit for bit what :func:`dynpim.pim.estimate` gives it). ``active_subarrays`` may be
    one int or one per config. Bits per layer as in :func:`dynpim.pim.estimate`."""
    arr = configs_array(model, configs)
    a = resolve_active(hw, active_subarrays)
    if a.ndim:
        if a.shape != (arr.shape[0],):
            raise ValueError(f"active_subarrays must be one int or one per config "
                             f"({arr.shape[0]}), got shape {a.shape}")
        a = a[:, None]
    table = model.layer_table(input_size)
    bits = model_bits(model, table, hw, wbits, abits)
    cin, cout = widths_matrix(table, arr)
    return network_costs(table, cin, cout, table, hw, bits, mapping, a)[2]
