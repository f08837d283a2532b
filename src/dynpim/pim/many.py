"""Many sub-net configs at once: the same formulas as :func:`estimate`, on (configs x layers)
arrays, for search and operating-table construction. The result is a :class:`CostArrays`
record (one numpy array per field, one entry per config); ``.row(i)`` is one config's
:class:`CostRow`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..nn import SubnetConfig, widths_matrix
from .bits import model_bits
from .cost import COMPONENTS, idle_power_w, layer_costs, resolve_active, totals
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


@dataclass(frozen=True)
class CostRow:
    """One config's per-inference cost (the fields of :class:`dynpim.pim.PimResult` of the same
    names, bit for bit)."""

    latency_s: float
    energy_j: float
    avg_power_w: float
    peak_power_w: float
    idle_power_w: float
    utilisation: float
    column_utilisation: float
    energy_breakdown_j: dict[str, float]  # per component (``dynpim.pim.COMPONENTS``)
    macs: int
    active_subarrays: int


_FLOAT_FIELDS = ("latency_s", "energy_j", "avg_power_w", "peak_power_w", "idle_power_w",
                 "utilisation", "column_utilisation")
_BREAKDOWN_KEYS = {comp: "energy_" + comp + "_j" for comp in COMPONENTS}  # dict edge names


@dataclass(frozen=True, eq=False)
class CostArrays:
    """Per-inference cost of many configs: one (n_configs,) array per field of :class:`CostRow`
    (``energy_breakdown_j``: one array per component). ``row(i)`` is config ``i``;
    ``to_dict``/``from_dict`` are the dict of arrays with the flat keys ``latency_s, energy_j,
    avg_power_w, peak_power_w, utilisation, column_utilisation, energy_<component>_j,
    idle_power_w, macs, active_subarrays``; ``arrays["energy_j"]`` and ``"macs" in arrays`` read
    that dict (what callers of the former dict result use)."""

    latency_s: np.ndarray
    energy_j: np.ndarray
    avg_power_w: np.ndarray
    peak_power_w: np.ndarray
    idle_power_w: np.ndarray
    utilisation: np.ndarray
    column_utilisation: np.ndarray
    energy_breakdown_j: Mapping[str, np.ndarray]
    macs: np.ndarray
    active_subarrays: np.ndarray

    def __len__(self) -> int:
        return len(self.energy_j)

    def row(self, i: int) -> CostRow:
        """Config ``i``'s costs as Python numbers."""
        vals: dict[str, Any] = {k: float(getattr(self, k)[i]) for k in _FLOAT_FIELDS}
        return CostRow(**vals,
                       energy_breakdown_j={c: float(a[i])
                                           for c, a in self.energy_breakdown_j.items()},
                       macs=int(self.macs[i]), active_subarrays=int(self.active_subarrays[i]))

    def to_dict(self) -> dict[str, np.ndarray]:
        """The flat dict of arrays (key order as ``estimate_many`` always returned)."""
        out = {k: getattr(self, k) for k in _FLOAT_FIELDS if k != "idle_power_w"}
        for comp, arr in self.energy_breakdown_j.items():
            out[_BREAKDOWN_KEYS[comp]] = arr
        out.update(idle_power_w=self.idle_power_w, macs=self.macs,
                   active_subarrays=self.active_subarrays)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CostArrays:
        """The inverse of :meth:`to_dict` (values converted with ``np.asarray``)."""
        names = [f.name for f in fields(cls) if f.name != "energy_breakdown_j"]
        return cls(**{k: np.asarray(d[k]) for k in names},
                   energy_breakdown_j={c: np.asarray(d[k]) for c, k in _BREAKDOWN_KEYS.items()})

    def keys(self) -> list[str]:
        return list(self.to_dict())

    def __getitem__(self, key: str) -> np.ndarray:
        return self.to_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CostArrays):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    __hash__ = None  # type: ignore[assignment]


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
    mp = map_model(table, hw, bits.placed_wbits, mapping)
    cin, cout = widths_matrix(table, arr)
    m, k, n, g = gemm_arrays(table, cin, cout)
    out = totals(layer_costs(m, k, n, g, mp, hw, bits, a))
    out["idle_power_w"] = np.full(arr.shape[0], idle_power_w(hw, mp))
    out["macs"] = (m * k * n).sum(axis=-1)
    out["active_subarrays"] = np.broadcast_to(a.reshape(-1), (arr.shape[0],)).copy()
    return CostArrays.from_dict(out)
