"""Many sub-net configs at once, for search and operating-table construction: the configs are
validated into a (configs x slots) array, turned into channel counts by the model's
:class:`dynpim.nn.LayerTable` and run through the same :func:`dynpim.pim.cost.network_costs` as
:func:`dynpim.pim.estimate`. The result is a
:class:`CostArrays` record (one numpy array per field, one entry per config; defined in
``cost.py``, re-exported here); ``.row(i)`` is one config's :class:`CostRow`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..nn import validate_configs
from .bits import model_bits
from .cost import CostArrays, CostRow, network_costs, resolve_active
from .dataflow import DEFAULT_MAPPING
from .hardware import Hardware

__all__ = ["CostArrays", "CostRow", "configs_array", "estimate_many"]


def configs_array(model, configs) -> np.ndarray:
    """(n_configs, n_slots) int64 array from SubnetConfigs, lists or an array; validated
    (:func:`dynpim.nn.validate_configs`, the validation of ``model.layer_table_at().widths``)."""
    return validate_configs(model.slots, configs)


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
    table = model.layer_table_at(input_size)
    bits = model_bits(model, table, hw, wbits, abits)
    cin, cout = table.geometry.channels(arr)  # arr is validated above
    return network_costs(table, cin, cout, table, hw, bits, mapping, a)[2]
