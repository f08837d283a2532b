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
tile (channel-interleaved); a sub-array holding several active channels senses them one after
another (time-shared passes). Two mappings decide what one sensed row holds:

* ``"channel"``: one output pixel's activation segment per row (``r = 1``);
* ``"pixel"`` (default): ``r = floor(cols / k_max)`` output pixels' segments side by side, the
  weight row holding ``r`` copies of the channel's weights in the columns the channel mapping
  leaves empty (no extra rows or sub-arrays) and a segmented bit-counter giving one popcount
  per pixel. Only layers with ``k_max <= cols / 2`` change (first convs, depthwise convs).

All functions broadcast over numpy arrays (one layer, or configs x layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from ..defaults import DEFAULT_MAPPING, MAPPINGS
from ..nn.layer_table import LayerTable
from ..nn.specs import LayerGeometry, LayerSpec
from .hardware import Hardware

Count: TypeAlias = "int | np.integer | np.ndarray"
"""A count of one layer (Python or numpy int) or an array of them, one per layer / config."""


@dataclass(frozen=True)
class OpCounts:
    """Operation counts of one layer for one inference (ints, or arrays of them)."""

    senses: Count  # two-row AND senses of one row segment (one sub-array row)
    sense_bits: Count  # AND output bits that belong to the layer (= bits bit-counted)
    sensed_cols: Count  # columns sensed: every column of each sensed row segment
    popcounts: Count  # bit-counter results (one per pixel segment of a sensed row)
    shift_adds: Count  # accumulations: one per popcount + cross-tile partial-sum adds
    row_writes: Count  # activation bit-plane row segments written into sub-arrays
    write_bits: Count  # bits written by those row writes
    bus_in_bits: Count  # activation bits read from the buffer and broadcast (once)
    bus_out_bits: Count  # quantized output bits sent back to the buffer
    psum_bits: Count  # partial sums moved between column tiles

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OpCounts))


def _ceil_div(a, b):
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def check_mapping(mapping: str) -> str:
    """``mapping`` if it is a known mapping name, else a ValueError listing them."""
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    return mapping


def layer_ops(m, k, n, g, subarrays_per_tile, abits, wbits, cols, accumulator_bits,
              pixels_per_row=1, out_bits=None) -> OpCounts:
    """Operation counts of a layer with ``m`` output channels in ``g`` groups, reduction ``k``
    per group, ``n`` output pixels, mapped on ``subarrays_per_tile`` sub-arrays per column tile
    with ``pixels_per_row`` pixel segments per sensed row; ``out_bits`` (default ``abits``) is
    the width of the quantized outputs sent back to the buffer."""
    m, k, n, g = (np.asarray(v, dtype=np.int64) for v in (m, k, n, g))
    s = np.asarray(subarrays_per_tile, dtype=np.int64)
    r = np.asarray(pixels_per_row, dtype=np.int64)
    ab, wb = np.asarray(abits, dtype=np.int64), np.asarray(wbits, dtype=np.int64)
    ob = ab if out_bits is None else np.asarray(out_bits, dtype=np.int64)
    t = _ceil_div(k, cols)
    rows_per_pass = _ceil_div(n, r)  # sensed rows per channel, weight bit, act. bit and tile
    senses = m * rows_per_pass * t * ab * wb
    segments = m * n * t * ab * wb
    dest = g * np.minimum(m // g, s)  # sub-arrays receiving each activation segment, per tile
    return OpCounts(
        senses=senses,
        sense_bits=m * n * k * ab * wb,
        sensed_cols=senses * int(cols),
        popcounts=segments,
        shift_adds=segments + m * n * (t - 1),
        row_writes=rows_per_pass * ab * t * dest,
        write_bits=n * ab * k * dest,
        bus_in_bits=n * ab * k * g,
        bus_out_bits=m * n * ob,
        psum_bits=m * n * (t - 1) * int(accumulator_bits),
    )


@dataclass(frozen=True)
class Schedule:
    """Parallel schedule of one layer: who is busy, for how long (per sensed pixel row and
    activation bit)."""

    tiles: Count  # active column tiles
    active_subarrays: Count  # sub-arrays with at least one active channel
    passes: Count  # active channels the busiest sub-array senses one after another
    busy_rows: Count  # weight rows sensed by the busiest sub-array per (pixel row, act. bit)
    busy_writes: Count  # activation rows written into the busiest sub-array per (row, bit)
    busy_psums: Count  # cross-tile partial-sum adds of the busiest sub-array per pixel row
    pixel_rows: Count  # sensed pixel rows: ceil(n / pixels_per_row)


def layer_schedule(m, k, g, subarrays_per_tile, wbits, cols, n=1, pixels_per_row=1) -> Schedule:
    """Channel-interleaved schedule: channel ``c`` sits in sub-array ``c mod S`` of each tile."""
    m, k, g = (np.asarray(v, dtype=np.int64) for v in (m, k, g))
    s = np.asarray(subarrays_per_tile, dtype=np.int64)
    t = _ceil_div(k, cols)
    per_tile = np.minimum(s, m)
    busiest = _ceil_div(m, s)  # channels in sub-array 0 of a tile
    dest = g * np.minimum(m // g, s)
    return Schedule(tiles=t, active_subarrays=t * per_tile, passes=busiest,
                    busy_rows=busiest * np.asarray(wbits, dtype=np.int64),
                    busy_writes=_ceil_div(dest, per_tile), busy_psums=busiest * (t - 1),
                    pixel_rows=_ceil_div(n, pixels_per_row))


def gemm_arrays(specs: Sequence[LayerSpec], cin: ArrayLike, cout: ArrayLike
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(m, k, n, g)`` arrays of the layers ``specs`` at channel counts ``cin``/``cout``
    (shape ``(..., len(specs))``); depthwise layers get one group per channel. The rule is
    :func:`dynpim.nn.gemm_dims`; a model's :class:`dynpim.nn.LayerTable` brings its per-layer
    arrays ready-made."""
    geometry = specs.geometry if isinstance(specs, LayerTable) else LayerGeometry.of(specs)
    return geometry.gemm(cin, cout)


@dataclass(frozen=True)
class Mapping:
    """Placement of the max-width model's weights on the computational sub-arrays."""

    name: str  # "pixel" or "channel"
    channels_per_subarray: int  # output channels (wbits rows each) per sub-array and tile
    subarrays_per_tile: np.ndarray  # (n_layers,)
    max_tiles: np.ndarray  # (n_layers,)
    pixels_per_row: np.ndarray  # (n_layers,) pixel segments side by side in one sensed row
    layer_subarrays: np.ndarray  # (n_layers,) sub-arrays holding each layer
    weight_bits: int  # bits of all weights at max width (each weight once)
    fits: bool  # does the model fit the chip's computational sub-arrays


def subarrays_needed(table: Sequence[LayerSpec], hw: Hardware, wbits) -> int:
    """Fewest computational sub-arrays that hold the max-width layers ``table`` (densest
    packing: ``weight_rows // max(wbits)`` channels per sub-array and tile)."""
    m, k, _, _ = gemm_arrays(table, [s.in_channels for s in table],
                             [s.out_channels for s in table])
    wb = np.broadcast_to(np.asarray(wbits, dtype=np.int64), m.shape)
    cps = hw.weight_rows // int(wb.max())
    return int((_ceil_div(k, hw.subarray.cols) * _ceil_div(m, cps)).sum())


def map_model(table: Sequence[LayerSpec], hw: Hardware, wbits,
              mapping: str = DEFAULT_MAPPING) -> Mapping:
    """Spread the max-width layers ``table`` as widely as the chip allows: the fewest channels
    per sub-array (most parallelism) such that every layer has its own sub-arrays. ``wbits``:
    one int or one per layer."""
    check_mapping(mapping)
    m, k, n, g = gemm_arrays(table, [s.in_channels for s in table],
                             [s.out_channels for s in table])
    wb = np.broadcast_to(np.asarray(wbits, dtype=np.int64), m.shape)
    if int(wb.max()) > hw.weight_rows:
        raise ValueError(f"wbits={int(wb.max())} exceeds the {hw.weight_rows} weight rows of a "
                         "sub-array")
    cols = hw.subarray.cols
    t = _ceil_div(k, cols)
    cps_max = hw.weight_rows // int(wb.max())
    total = hw.architecture.subarrays
    lo, hi = 1, cps_max  # sub-arrays needed fall as cps grows: bisect the smallest that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if int((t * _ceil_div(m, mid)).sum()) <= total:
            hi = mid
        else:
            lo = mid + 1
    s = _ceil_div(m, lo)
    layer_sa = t * s
    if mapping == "pixel":
        r = np.maximum(1, np.minimum(n, cols // k))
    else:
        r = np.ones_like(m)
    weight_bits = int((m * k * wb).sum())
    return Mapping(mapping, lo, s, t, r, layer_sa, weight_bits, bool(layer_sa.sum() <= total))
