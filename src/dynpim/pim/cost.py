"""Latency, energy, power and area of one inference from the dataflow's operation counts.

``layer_costs`` is vectorised over (configs x layers) arrays and is the only place where
counts become seconds and joules; ``totals`` sums layers into one inference. Both run inside
:func:`network_costs`, the one road from channel counts to a :class:`CostArrays` record:
:func:`estimate` (one config: the record's row 0, plus the per-layer table) and
:func:`dynpim.pim.estimate_many` (many configs: the record itself) both call it.
Formulas: docs/pim-model.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from collections.abc import Mapping as ReadOnly
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..nn.layer_table import LayerTable
from ..nn.specs import LayerSpec
from .bits import LayerBits, model_bits, uniform_bits
from .dataflow import (
    COUNT_FIELDS,
    DEFAULT_MAPPING,
    Mapping,
    OpCounts,
    gemm_arrays,
    layer_ops,
    layer_schedule,
    map_model,
)
from .hardware import Hardware

COMPONENTS: tuple[str, ...] = ("sense", "row", "write", "compute", "buffer", "bus", "leakage",
                               "static", "wakeup")


def resolve_active(hw: Hardware, active_subarrays) -> np.ndarray:
    """``active_subarrays`` as an int64 array (None = every computational sub-array)."""
    total = hw.architecture.subarrays
    if active_subarrays is None:
        return np.asarray(total, dtype=np.int64)
    a = np.asarray(active_subarrays)
    if a.dtype.kind not in "iu" or a.size == 0 or a.min() < 1 or a.max() > total:
        raise ValueError(f"active_subarrays must be integers in 1..{total} (the computational "
                         f"sub-arrays of {hw.name}), got {active_subarrays!r}")
    return a.astype(np.int64)


def layer_costs(m, k, n, g, mapping: Mapping, hw: Hardware, bits: LayerBits,
                active) -> dict[str, np.ndarray]:
    """Per-layer latency (s) and energy by component (J), broadcast over leading axes."""
    d, sa, ar = hw.device, hw.subarray, hw.architecture
    s, r = mapping.subarrays_per_tile, mapping.pixels_per_row
    wb, ab = bits.sensed_wbits, bits.abits
    ops = layer_ops(m, k, n, g, s, ab, wb, sa.cols, sa.accumulator_bits, r, bits.out_bits)
    sch = layer_schedule(m, k, g, s, wb, sa.cols, n, r)
    active = np.asarray(active, dtype=np.int64)
    t_pass = sch.pixel_rows * ab * (sch.busy_writes * d.write_latency_s
                                    + sch.busy_rows * hw.cycle_s) \
        + sch.pixel_rows * sch.busy_psums * sa.shift_add_latency_s
    waves = -(-sch.active_subarrays // active)
    # each wave of channel sub-arrays needs the activations again (at most once per sub-array)
    rebroadcast = np.minimum(waves, np.minimum(s, m))
    bus_in = ops.bus_in_bits * rebroadcast
    moved = bus_in + ops.bus_out_bits + ops.psum_bits
    t_bus = moved / (ar.bus_width_bits * ar.clock_hz)
    latency = np.maximum(waves * t_pass, t_bus) + waves * sa.wakeup_latency_s
    powered = np.minimum(sch.active_subarrays, active)
    idle_held = np.maximum(int(mapping.layer_subarrays.sum()) - powered, 0)
    sensed = ops.sense_bits if sa.column_gating else ops.sensed_cols
    out = {
        "latency_s": latency,
        "sense": sensed * d.sense_energy_j_per_bit,
        "row": (2 * ops.senses + ops.row_writes) * sa.row_activation_energy_j,
        "write": ops.write_bits * d.write_energy_j_per_bit,
        "compute": ops.sense_bits * sa.popcount_energy_j_per_bit
        + ops.shift_adds * sa.shift_add_energy_j,
        "buffer": (bus_in + ops.bus_out_bits) * ar.buffer_energy_j_per_bit,
        "bus": moved * hw.bus_energy_j_per_bit,
        "leakage": latency * (powered * sa.leakage_power_w + idle_held * d.retention_power_w),
        "static": latency * ar.static_power_w,
        "wakeup": sch.active_subarrays * sa.wakeup_energy_j,
        "active_subarrays": sch.active_subarrays,
        "powered_subarrays": powered,
        "waves": waves,
        "passes": sch.passes,
        "rebroadcast": rebroadcast,
        "busy_s": ops.senses * hw.cycle_s,  # sense-cycle time summed over sub-arrays
    }
    out["energy_j"] = sum(out[c] for c in COMPONENTS)
    out.update({f"n_{f}": getattr(ops, f) for f in COUNT_FIELDS})
    return out


def totals(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sum per-layer costs (last axis) into per-inference figures."""
    lat = c["latency_s"].sum(axis=-1)
    energy = c["energy_j"].sum(axis=-1)
    out = {"latency_s": lat, "energy_j": energy, "avg_power_w": energy / lat,
           "peak_power_w": (c["energy_j"] / c["latency_s"]).max(axis=-1),
           "utilisation": c["busy_s"].sum(axis=-1)
           / (c["latency_s"] * c["powered_subarrays"]).sum(axis=-1),
           "column_utilisation": c["n_sense_bits"].sum(axis=-1)
           / c["n_sensed_cols"].sum(axis=-1)}
    for comp in COMPONENTS:
        out[f"energy_{comp}_j"] = c[comp].sum(axis=-1)
    return out


def idle_power_w(hw: Hardware, mapping: Mapping) -> float:
    """Power between inferences: the controller's static power, plus retention of the gated
    sub-arrays that hold weights (0 for non-volatile cells)."""
    held = int(mapping.layer_subarrays.sum())
    return hw.architecture.static_power_w + held * hw.device.retention_power_w


@dataclass(frozen=True)
class LayerCost:
    """One layer of the active sub-net on the accelerator."""

    name: str
    kind: str
    gemm: tuple[int, int, int]  # (M, K, N) of the layer (K per group)
    groups: int
    macs: int
    wbits: int  # weight bits the layer runs at
    abits: int  # bits of the activations it reads (the network input: input_bits)
    mapped_subarrays: int  # sub-arrays holding this layer's (max-width) weights
    active_subarrays: int  # sub-arrays that compute for the active channels
    passes: int  # active channels the busiest sub-array senses one after another
    pixels_per_row: int  # output pixels whose segments share one sensed row
    column_utilisation: float  # AND bits used / columns sensed
    waves: int  # sequential batches of sub-arrays under the active_subarrays budget
    counts: OpCounts
    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float]


@dataclass(frozen=True)
class PimResult:
    """Cost of one inference of one sub-net (SI units; ``area_mm2`` in mm^2 by convention)."""

    preset: str
    config: tuple[int, ...]
    mapping: str
    wbits: int  # weight bits of the inner layers (each layer's own: ``layers[i].wbits``)
    abits: int  # activation bits of the inner layers (the first layer reads input_bits)
    active_subarrays: int
    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float]
    avg_power_w: float  # power while computing: energy / latency
    peak_power_w: float  # highest layer-average power
    idle_power_w: float  # between inferences: static power + retention of gated sub-arrays
    area_mm2: float
    utilisation: float  # sensing time / (latency x powered sub-arrays)
    column_utilisation: float  # AND bits used / columns sensed
    macs: int
    weight_bits: int  # bits of the max-width model's weights
    capacity_bits: int  # weight rows of all computational sub-arrays x columns
    mapped_subarrays: int
    total_subarrays: int
    channels_per_subarray: int
    fits: bool  # the max-width weights fit the computational sub-arrays
    buffer_bits_needed: int  # largest input + output feature map of one layer, quantized
    buffer_fits: bool
    layers: tuple[LayerCost, ...]

    @property
    def capacity_utilisation(self) -> float:
        return self.weight_bits / self.capacity_bits

    @property
    def max_rate_hz(self) -> float:
        """Inferences per second when they run back to back."""
        return 1.0 / self.latency_s

    def power_at(self, rate_hz: float) -> float:
        """Average power (W) at ``rate_hz`` inferences per second, idle time between them
        included: ``rate x energy + (1 - rate x latency) x idle_power``."""
        rate = float(rate_hz)
        if not 0 <= rate <= self.max_rate_hz * (1 + 1e-12):
            raise ValueError(f"rate_hz must be in [0, {self.max_rate_hz:.6g}] (one inference "
                             f"takes {self.latency_s:.6g} s), got {rate_hz!r}")
        busy = min(1.0, rate * self.latency_s)
        return rate * self.energy_j + (1.0 - busy) * self.idle_power_w

    def to_dict(self) -> dict:
        d = asdict(self)
        d["capacity_utilisation"] = self.capacity_utilisation
        return d


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
    energy_breakdown_j: ReadOnly[str, np.ndarray]
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
    def from_dict(cls, d: ReadOnly[str, Any]) -> CostArrays:
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


def network_costs(specs: Sequence[LayerSpec], cin: ArrayLike, cout: ArrayLike,
                  table: Sequence[LayerSpec], hw: Hardware, bits: LayerBits, mapping: str,
                  active: np.ndarray) -> tuple[Mapping, dict[str, np.ndarray], CostArrays]:
    """The one road from channel counts to costs, for one config or many: the layers ``specs``
    (their geometry) at ``cin``/``cout`` channels (``(n_configs, n_layers)``) on the max-width
    layers ``table`` placed with ``mapping``. Returns the placement, the per-layer costs of
    :func:`layer_costs` and the per-inference :class:`CostArrays` (one entry per config) that
    :func:`estimate` and :func:`dynpim.pim.estimate_many` both read."""
    mp = map_model(table, hw, bits.placed_wbits, mapping)
    m, k, n, g = gemm_arrays(specs, cin, cout)
    c = layer_costs(m, k, n, g, mp, hw, bits, active)
    out = totals(c)
    n_cfg = m.shape[0]
    out["idle_power_w"] = np.full(n_cfg, idle_power_w(hw, mp))
    out["macs"] = (m * k * n).sum(axis=-1)
    out["active_subarrays"] = np.broadcast_to(np.asarray(active).reshape(-1), (n_cfg,)).copy()
    c.update(m=m, k=k, n=n, g=g)
    return mp, c, CostArrays.from_dict(out)


def estimate_layers(specs: Sequence[LayerSpec], hw: Hardware, *,
                    table: Sequence[LayerSpec] | None = None, active_subarrays: int | None = None,
                    wbits=None, abits=None, bits: LayerBits | None = None,
                    mapping: str = DEFAULT_MAPPING, config: Sequence[int] = ()) -> PimResult:
    """Cost of the layers ``specs`` (active widths); ``table`` gives the max-width layers the
    weights were mapped for (default: ``specs`` themselves). Bits: ``bits`` (per layer), else
    ``wbits``/``abits`` (an int or one per layer; default: the preset's)."""
    if not specs:
        raise ValueError("no conv/linear layers to estimate")
    table = table if isinstance(table, LayerTable) and table else list(table or specs)
    if len(table) != len(specs):
        raise ValueError(f"table has {len(table)} layers but specs has {len(specs)}")
    if bits is None:
        bits = uniform_bits(len(specs), hw, wbits, abits)
    a = resolve_active(hw, active_subarrays)
    if a.ndim:
        raise ValueError("estimate takes one active_subarrays value; use estimate_many for grids")
    mp, c, arrays = network_costs(specs, [[s.in_channels for s in specs]],
                                  [[s.out_channels for s in specs]], table, hw, bits, mapping, a)
    m, k, n, g = c["m"], c["k"], c["n"], c["g"]
    layers = []
    for j, s in enumerate(specs):
        counts = OpCounts(**{f: int(c[f"n_{f}"][0, j]) for f in COUNT_FIELDS})
        layers.append(LayerCost(
            s.name, s.kind, (int(m[0, j]), int(k[0, j]), int(n[0, j])), int(g[0, j]),
            int(m[0, j] * k[0, j] * n[0, j]),
            int(bits.wbits[j]), int(bits.abits[j]), int(mp.layer_subarrays[j]),
            int(c["active_subarrays"][0, j]), int(c["passes"][0, j]),
            int(mp.pixels_per_row[j]), float(counts.sense_bits / counts.sensed_cols),
            int(c["waves"][0, j]), counts, float(c["latency_s"][0, j]),
            float(c["energy_j"][0, j]), {comp: float(c[comp][0, j]) for comp in COMPONENTS}))
    fmap = max((s.in_channels * s.in_hw[0] * s.in_hw[1] * int(bits.abits[j])
                + s.out_channels * s.out_hw[0] * s.out_hw[1] * int(bits.out_bits[j]))
               for j, s in enumerate(specs))
    wb, ab = bits.uniform
    row = arrays.row(0)
    return PimResult(
        preset=hw.name, config=tuple(int(w) for w in config), mapping=mp.name, wbits=wb,
        abits=ab, active_subarrays=row.active_subarrays, latency_s=row.latency_s,
        energy_j=row.energy_j, energy_breakdown_j=row.energy_breakdown_j,
        avg_power_w=row.avg_power_w, peak_power_w=row.peak_power_w,
        idle_power_w=row.idle_power_w, area_mm2=hw.area_m2 * 1e6,
        utilisation=row.utilisation, column_utilisation=row.column_utilisation,
        macs=row.macs, weight_bits=mp.weight_bits,
        capacity_bits=hw.architecture.subarrays * hw.weight_rows * hw.subarray.cols,
        mapped_subarrays=int(mp.layer_subarrays.sum()),
        total_subarrays=hw.architecture.subarrays,
        channels_per_subarray=mp.channels_per_subarray, fits=mp.fits,
        buffer_bits_needed=int(fmap), buffer_fits=bool(fmap <= hw.architecture.buffer_bits),
        layers=tuple(layers))


def estimate(model, cfg, hw: Hardware, input_size: Sequence[int] | None = None,
             active_subarrays: int | None = None, *, wbits: int | None = None,
             abits: int | None = None, mapping: str = DEFAULT_MAPPING) -> PimResult:
    """Cost of one inference of ``model`` (a ``DynamicNet``) at sub-net ``cfg`` on ``hw``.

    Each layer runs at the bits the model gives it (:func:`dynpim.pim.bits.model_bits`);
    ``wbits``/``abits`` override them (a float model's widths; default: the preset's)."""
    cfg = model.validate(cfg)
    table = model.layer_table_at(input_size)
    specs = table.specs_at(cfg.widths)
    bits = model_bits(model, table, hw, wbits, abits)
    return estimate_layers(specs, hw, table=table, active_subarrays=active_subarrays,
                           bits=bits, mapping=mapping, config=cfg.widths)
