"""The bit-wise dataflow: the single source of truth for what one layer costs in operations.

A layer is a grouped GEMM: ``g`` groups, each with ``m/g`` output channels, reduction length
``k`` (inputs per output, per group) and ``n`` output pixels. Weights are stored as bit-planes:
one output channel and one weight bit ``j`` give one row segment of length ``k``, cut into
``T = ceil(k / cols)`` column tiles. For every output pixel and activation bit ``i`` the
activation bit-plane segment is written into the reserved row of each sub-array that holds its
group, then sensed together with every weight row (two-row AND), bit-counted and shift-added:

    y[m, n] = sum_i sum_j s_j 2^(i+j) popcount(x_i[n] AND w_j[m]),  s_j = -1 for the sign plane

Mapping (fixed once for the max-width model, so switching sub-nets moves no weights):
output channel ``c`` of a layer goes to sub-array ``c mod S`` of each tile, ``S`` sub-arrays per
tile (channel-interleaved), so a narrower sub-net still spreads over ``min(S, m)`` sub-arrays.

All functions broadcast over numpy arrays (one layer, or configs x layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from ..nn.specs import LayerSpec
from .hardware import Hardware


@dataclass(frozen=True)
class OpCounts:
    """Operation counts of one layer for one inference (ints, or arrays of them)."""

    senses: object  # two-row AND senses of one row segment
    sense_bits: object  # AND output bits sensed (= bits bit-counted)
    popcounts: object  # bit-counter operations (one per sensed segment)
    shift_adds: object  # accumulations: one per popcount + cross-tile partial-sum adds
    row_writes: object  # activation bit-plane row segments written into sub-arrays
    write_bits: object  # bits written by those row writes
    bus_in_bits: object  # activation bits read from the buffer and broadcast on the bus
    bus_out_bits: object  # quantized output bits sent back to the buffer
    psum_bits: object  # partial sums moved between column tiles

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OpCounts))


def _ceil_div(a, b):
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def layer_ops(m, k, n, g, subarrays_per_tile, abits, wbits, cols, accumulator_bits) -> OpCounts:
    """Operation counts of a layer with ``m`` output channels in ``g`` groups, reduction ``k``
    per group, ``n`` output pixels, mapped on ``subarrays_per_tile`` sub-arrays per column tile."""
    m, k, n, g = (np.asarray(v, dtype=np.int64) for v in (m, k, n, g))
    s = np.asarray(subarrays_per_tile, dtype=np.int64)
    t = _ceil_div(k, cols)
    ab, wb = int(abits), int(wbits)
    senses = m * n * t * ab * wb
    dest = g * np.minimum(m // g, s)  # sub-arrays receiving each activation segment, per tile
    return OpCounts(
        senses=senses,
        sense_bits=m * n * k * ab * wb,
        popcounts=senses,
        shift_adds=senses + m * n * (t - 1),
        row_writes=n * ab * t * dest,
        write_bits=n * ab * k * dest,
        bus_in_bits=n * ab * k * g,
        bus_out_bits=m * n * ab,
        psum_bits=m * n * (t - 1) * int(accumulator_bits),
    )


@dataclass(frozen=True)
class Schedule:
    """Parallel schedule of one layer: who is busy, for how long (per pixel and bit)."""

    tiles: object  # active column tiles
    active_subarrays: object  # sub-arrays with at least one active channel
    busy_rows: object  # weight rows sensed by the busiest sub-array per (pixel, act. bit)
    busy_writes: object  # activation rows written into the busiest sub-array per (pixel, bit)
    busy_psums: object  # cross-tile partial-sum adds of the busiest sub-array per pixel


def layer_schedule(m, k, g, subarrays_per_tile, wbits, cols) -> Schedule:
    """Channel-interleaved schedule: channel ``c`` sits in sub-array ``c mod S`` of each tile."""
    m, k, g = (np.asarray(v, dtype=np.int64) for v in (m, k, g))
    s = np.asarray(subarrays_per_tile, dtype=np.int64)
    t = _ceil_div(k, cols)
    per_tile = np.minimum(s, m)
    busiest = _ceil_div(m, s)  # channels in sub-array 0 of a tile
    dest = g * np.minimum(m // g, s)
    return Schedule(tiles=t, active_subarrays=t * per_tile, busy_rows=busiest * int(wbits),
                    busy_writes=_ceil_div(dest, per_tile), busy_psums=busiest * (t - 1))


def gemm_arrays(specs: Sequence[LayerSpec], cin: np.ndarray, cout: np.ndarray):
    """``(m, k, n, g)`` arrays of the layers ``specs`` at channel counts ``cin``/``cout``
    (shape ``(..., len(specs))``); depthwise layers get one group per channel."""
    khkw = np.array([s.kernel_size[0] * s.kernel_size[1] for s in specs], dtype=np.int64)
    npix = np.array([s.out_hw[0] * s.out_hw[1] for s in specs], dtype=np.int64)
    dw = np.array([s.kind == "dwconv" for s in specs])
    groups = np.array([s.groups for s in specs], dtype=np.int64)
    cin, cout = np.asarray(cin, dtype=np.int64), np.asarray(cout, dtype=np.int64)
    g = np.where(dw, cout, groups)
    k = np.where(dw, khkw, (cin // np.where(dw, 1, groups)) * khkw)
    n = np.broadcast_to(npix, cout.shape)
    return cout, k, n, g


@dataclass(frozen=True)
class Mapping:
    """Placement of the max-width model's weights on the computational sub-arrays."""

    channels_per_subarray: int  # output channels (wbits rows each) per sub-array and tile
    subarrays_per_tile: np.ndarray  # (n_layers,)
    max_tiles: np.ndarray  # (n_layers,)
    layer_subarrays: np.ndarray  # (n_layers,) sub-arrays holding each layer
    weight_bits: int  # bits of all weights at max width
    fits: bool  # does the model fit the chip's computational sub-arrays


def map_model(table: Sequence[LayerSpec], hw: Hardware, wbits: int) -> Mapping:
    """Spread the max-width layers ``table`` as widely as the chip allows: the fewest channels
    per sub-array (most parallelism) such that every layer has its own sub-arrays."""
    if int(wbits) > hw.weight_rows:
        raise ValueError(f"wbits={wbits} exceeds the {hw.weight_rows} weight rows of a sub-array")
    m, k, n, g = gemm_arrays(table, [s.in_channels for s in table],
                             [s.out_channels for s in table])
    t = _ceil_div(k, hw.subarray.cols)
    cps_max = hw.weight_rows // int(wbits)
    total = hw.architecture.subarrays
    lo, hi = 1, cps_max  # sub-arrays needed fall as cps grows: bisect the smallest that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if int((t * _ceil_div(m, mid)).sum()) <= total:
            hi = mid
        else:
            lo = mid + 1
    chosen = lo
    s = _ceil_div(m, chosen)
    layer_sa = t * s
    weight_bits = int((m * k * int(wbits)).sum())
    return Mapping(chosen, s, t, layer_sa, weight_bits, bool(layer_sa.sum() <= total))
