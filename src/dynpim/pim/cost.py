"""Latency, energy, power and area of one inference from the dataflow's operation counts.

``layer_costs`` is vectorised over (configs x layers) arrays and is the only place where
counts become seconds and joules; :func:`estimate` (one config, per-layer table) and
:func:`dynpim.pim.estimate_many` (many configs, arrays) both call it. Formulas: docs/pim-model.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..nn.specs import LayerSpec
from .dataflow import (
    COUNT_FIELDS,
    Mapping,
    OpCounts,
    gemm_arrays,
    layer_ops,
    layer_schedule,
    map_model,
)
from .hardware import Hardware

COMPONENTS: tuple[str, ...] = ("sense", "write", "compute", "bus", "leakage", "wakeup")


def resolve_bits(hw: Hardware, wbits: int | None, abits: int | None) -> tuple[int, int]:
    """Bit widths to use: explicit values, else the preset's quantization section."""
    out = []
    for name, v, default in (("wbits", wbits, hw.quantization.wbits),
                             ("abits", abits, hw.quantization.abits)):
        v = default if v is None else v
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= 16:
            raise ValueError(f"{name} must be an int in 1..16, got {v!r}")
        out.append(int(v))
    return out[0], out[1]


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


def layer_costs(m, k, n, g, mapping: Mapping, hw: Hardware, wbits: int, abits: int,
                active) -> dict[str, np.ndarray]:
    """Per-layer latency (s) and energy by component (J), broadcast over leading axes."""
    d, sa, ar = hw.device, hw.subarray, hw.architecture
    s = mapping.subarrays_per_tile
    ops = layer_ops(m, k, n, g, s, abits, wbits, sa.cols, sa.accumulator_bits)
    sch = layer_schedule(m, k, g, s, wbits, sa.cols)
    n = np.asarray(n, dtype=np.int64)
    active = np.asarray(active, dtype=np.int64)
    t_wave = n * abits * (sch.busy_writes * d.write_latency_s + sch.busy_rows * hw.cycle_s) \
        + n * sch.busy_psums * sa.shift_add_latency_s
    waves = -(-sch.active_subarrays // active)
    moved = ops.bus_in_bits + ops.bus_out_bits + ops.psum_bits
    t_bus = moved / (ar.bus_width_bits * ar.clock_hz)
    latency = np.maximum(waves * t_wave, t_bus) + waves * sa.wakeup_latency_s
    powered = np.minimum(sch.active_subarrays, active)
    idle_held = np.maximum(int(mapping.layer_subarrays.sum()) - powered, 0)
    leak_w = powered * sa.leakage_power_w + ar.static_power_w + idle_held * d.retention_power_w
    out = {
        "latency_s": latency,
        "sense": ops.sense_bits * d.sense_energy_j_per_bit,
        "write": ops.write_bits * d.write_energy_j_per_bit,
        "compute": ops.sense_bits * sa.popcount_energy_j_per_bit
        + ops.shift_adds * sa.shift_add_energy_j,
        "bus": moved * ar.bus_energy_j_per_bit
        + (ops.bus_in_bits + ops.bus_out_bits) * ar.buffer_energy_j_per_bit,
        "leakage": latency * leak_w,
        "wakeup": sch.active_subarrays * sa.wakeup_energy_j,
        "active_subarrays": sch.active_subarrays,
        "powered_subarrays": powered,
        "waves": waves,
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
           / (c["latency_s"] * c["powered_subarrays"]).sum(axis=-1)}
    for comp in COMPONENTS:
        out[f"energy_{comp}_j"] = c[comp].sum(axis=-1)
    return out


@dataclass(frozen=True)
class LayerCost:
    """One layer of the active sub-net on the accelerator."""

    name: str
    kind: str
    gemm: tuple[int, int, int]  # (M, K, N) of the layer (K per group)
    groups: int
    macs: int
    mapped_subarrays: int  # sub-arrays holding this layer's (max-width) weights
    active_subarrays: int  # sub-arrays that compute for the active channels
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
    wbits: int
    abits: int
    active_subarrays: int
    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float]
    avg_power_w: float
    peak_power_w: float  # highest layer-average power
    area_mm2: float
    utilisation: float  # sensing time / (latency x powered sub-arrays)
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["capacity_utilisation"] = self.capacity_utilisation
        return d


def _arrays(specs: Sequence[LayerSpec]):
    return gemm_arrays(specs, np.array([[s.in_channels for s in specs]]),
                       np.array([[s.out_channels for s in specs]]))


def estimate_layers(specs: Sequence[LayerSpec], hw: Hardware, *,
                    table: Sequence[LayerSpec] | None = None, active_subarrays: int | None = None,
                    wbits: int | None = None, abits: int | None = None,
                    config: Sequence[int] = ()) -> PimResult:
    """Cost of the layers ``specs`` (active widths); ``table`` gives the max-width layers the
    weights were mapped for (default: ``specs`` themselves)."""
    if not specs:
        raise ValueError("no conv/linear layers to estimate")
    table = list(table or specs)
    if len(table) != len(specs):
        raise ValueError(f"table has {len(table)} layers but specs has {len(specs)}")
    wb, ab = resolve_bits(hw, wbits, abits)
    a = resolve_active(hw, active_subarrays)
    if a.ndim:
        raise ValueError("estimate takes one active_subarrays value; use estimate_many for grids")
    mapping = map_model(table, hw, wb)
    m, k, n, g = _arrays(specs)
    c = layer_costs(m, k, n, g, mapping, hw, wb, ab, a)
    t = totals(c)
    layers = []
    for j, s in enumerate(specs):
        counts = OpCounts(**{f: int(c[f"n_{f}"][0, j]) for f in COUNT_FIELDS})
        layers.append(LayerCost(
            s.name, s.kind, (int(m[0, j]), int(k[0, j]), int(n[0, j])), int(g[0, j]), s.macs,
            int(mapping.layer_subarrays[j]), int(c["active_subarrays"][0, j]),
            int(c["waves"][0, j]), counts, float(c["latency_s"][0, j]),
            float(c["energy_j"][0, j]), {comp: float(c[comp][0, j]) for comp in COMPONENTS}))
    fmap = max((s.in_channels * s.in_hw[0] * s.in_hw[1] + s.out_channels * s.out_hw[0]
                * s.out_hw[1]) * ab for s in specs)
    return PimResult(
        preset=hw.name, config=tuple(int(w) for w in config), wbits=wb, abits=ab,
        active_subarrays=int(a), latency_s=float(t["latency_s"][0]),
        energy_j=float(t["energy_j"][0]),
        energy_breakdown_j={comp: float(t[f"energy_{comp}_j"][0]) for comp in COMPONENTS},
        avg_power_w=float(t["avg_power_w"][0]), peak_power_w=float(t["peak_power_w"][0]),
        area_mm2=hw.area_m2 * 1e6, utilisation=float(t["utilisation"][0]),
        macs=int(sum(s.macs for s in specs)), weight_bits=mapping.weight_bits,
        capacity_bits=hw.architecture.subarrays * hw.weight_rows * hw.subarray.cols,
        mapped_subarrays=int(mapping.layer_subarrays.sum()),
        total_subarrays=hw.architecture.subarrays,
        channels_per_subarray=mapping.channels_per_subarray, fits=mapping.fits,
        buffer_bits_needed=int(fmap), buffer_fits=bool(fmap <= hw.architecture.buffer_bits),
        layers=tuple(layers))


def estimate(model, cfg, hw: Hardware, input_size: Sequence[int] | None = None,
             active_subarrays: int | None = None, *, wbits: int | None = None,
             abits: int | None = None) -> PimResult:
    """Cost of one inference of ``model`` (a ``DynamicNet``) at sub-net ``cfg`` on ``hw``."""
    cfg = model.validate(cfg)
    table = model.layer_table(input_size)
    specs = model.layer_specs(cfg, input_size)
    return estimate_layers(specs, hw, table=table, active_subarrays=active_subarrays,
                           wbits=wbits, abits=abits, config=cfg.widths)
