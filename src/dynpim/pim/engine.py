"""Functional bit-wise engine: quantized conv/linear computed the way the PIM array does it.

Unsigned activations and two's-complement weights are split into bit-planes, packed into 64-bit
words per column tile (one sub-array row segment), ANDed, bit-counted (``numpy.bitwise_count``)
and shift-added with the sign plane negative. The result equals integer convolution exactly.
Optionally every AND output bit flips with probability ``flip_prob`` (sensing errors): the
number of flipped ones and zeros in each sensed segment is drawn from the exact binomial laws.

The engine counts the operations it performs on the cost model's placement of the layer; they
equal :func:`dataflow.layer_ops` for that placement with no extra argument (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import check_bits
from ..nn.specs import LayerSpec
from .dataflow import DEFAULT_MAPPING, OpCounts, check_mapping, map_model
from .hardware import Hardware

_CHUNK_WORDS = 1 << 22  # words ANDed at once (bounds memory, ~32 MiB)


@cache
def _default_hw() -> Hardware:
    from .presets import load_preset  # read once, on first use (no import-time file access)

    return load_preset()


def _as_int_array(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        if a.is_floating_point() and not torch.equal(a, a.round()):
            raise ValueError(f"{name} must hold integers")
        a = a.to(torch.int64).numpy()
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not np.array_equal(a, np.round(a)):
            raise ValueError(f"{name} must hold integers")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer tensor, got dtype {a.dtype}")
    return a.astype(np.int64)


def _rng(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        return np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
    return np.random.default_rng(generator)  # int seed or None


def _pack(bits: np.ndarray, tiles: int, cols: int) -> np.ndarray:
    """(..., K) 0/1 -> (..., tiles, words) uint64, one zero-padded row segment per tile."""
    k = bits.shape[-1]
    words = -(-cols // 64)
    full = np.zeros(bits.shape[:-1] + (tiles, words * 64), dtype=np.uint8)
    flat = np.zeros(bits.shape[:-1] + (tiles * cols,), dtype=np.uint8)
    flat[..., :k] = bits
    full[..., :cols] = flat.reshape(bits.shape[:-1] + (tiles, cols))
    packed = np.packbits(full, axis=-1)  # (..., tiles, words*8) bytes
    return np.ascontiguousarray(packed).view(np.uint64)


def _placement(x_shape, w_shape, stride, padding, groups, wbits, hw: Hardware, mapping: str):
    """Columns, sub-arrays per tile and pixels per row of this layer placed alone on ``hw``
    (the cost model's ``map_model`` of a one-layer model: the same placement it costs)."""
    m, cg, kh, kw = w_shape
    ho = (x_shape[2] + 2 * padding[0] - kh) // stride[0] + 1
    wo = (x_shape[3] + 2 * padding[1] - kw) // stride[1] + 1
    kind = "dwconv" if groups > 1 and groups == m and cg == 1 else "conv"
    spec = LayerSpec("layer", kind, cg * groups, m, (kh, kw), stride, padding, groups,
                     (x_shape[2], x_shape[3]), (ho, wo), None, None, False)
    mp = map_model([spec], hw, wbits, mapping)
    return int(mp.subarrays_per_tile[0]), int(mp.pixels_per_row[0])


def _check_inputs(x: np.ndarray, w: np.ndarray, abits: int, wbits: int, groups: int,
                  flip_prob: float, cols: int | None) -> None:
    """ValueErrors, naming the argument, for anything the dataflow cannot run."""
    check_bits("abits", abits)
    check_bits("wbits", wbits)
    if not 0.0 <= float(flip_prob) <= 1.0:
        raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
    if cols is not None and cols < 1:
        raise ValueError(f"cols must be >= 1, got {cols}")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"need x (B,C,H,W) and w (M,C/groups,kh,kw), got {x.shape}, {w.shape}")
    c, (m, cg) = x.shape[1], w.shape[:2]
    if groups < 1 or c % groups or m % groups or cg != c // groups:
        raise ValueError(f"groups={groups} does not fit x channels {c} and weight {w.shape}")
    if x.size and (x.min() < 0 or x.max() >= 1 << abits):
        raise ValueError(f"x_int must be unsigned {abits}-bit: values in [0, {(1 << abits) - 1}]")
    lo, hi = -(1 << (wbits - 1)), (1 << (wbits - 1)) - 1
    if w.size and (w.min() < lo or w.max() > hi):
        raise ValueError(f"w_int must be signed {wbits}-bit: values in [{lo}, {hi}]")


@dataclass
class _Tally:
    """Operations the engine performed (summed over the AND/popcount loop)."""

    senses: int = 0
    sense_bits: int = 0
    popcounts: int = 0


def _and_popcount(xp: np.ndarray, wp: np.ndarray, row_id: np.ndarray, n_rows: int, r: int,
                  valid: np.ndarray, flip_prob: float, generator) -> tuple[np.ndarray, _Tally]:
    """For every activation plane ``i`` and weight plane ``j``: AND the packed row segments,
    count each pixel segment, flip sensed bits if asked and shift-add with the sign plane
    negative. ``xp``: (abits, G, N, T, words), ``wp``: (wbits, G, Mg, T, words); sensed rows
    of ``r`` pixels each (``row_id`` per pixel, ascending). Returns (G, Mg, N, T) partial sums
    and the tally."""
    abits, wbits = xp.shape[0], wp.shape[0]
    g, mg, tiles, words = wp.shape[1], wp.shape[2], wp.shape[3], wp.shape[4]
    rng = _rng(generator) if flip_prob > 0 else None
    acc = np.zeros((g, mg, xp.shape[2], tiles), dtype=np.int64)
    step_rows = max(1, _CHUNK_WORDS // max(1, g * mg * tiles * words) // r)
    tally = _Tally()
    for i in range(abits):
        for j in range(wbits):
            scale = (-1 if j == wbits - 1 else 1) << (i + j)
            for r0 in range(0, n_rows, step_rows):
                r1 = min(n_rows, r0 + step_rows)
                s0, s1 = (int(v) for v in np.searchsorted(row_id, [r0, r1]))
                anded = wp[j][:, :, None] & xp[i][:, None, s0:s1]  # (G, Mg, n', T, words)
                pc = np.bitwise_count(anded).sum(axis=-1, dtype=np.int64)  # (G, Mg, n', T)
                if rng is not None:
                    pc = pc - rng.binomial(pc, flip_prob) + rng.binomial(valid - pc, flip_prob)
                acc[:, :, s0:s1] += scale * pc
                tally.popcounts += pc.size
                tally.senses += g * mg * (r1 - r0) * tiles
                tally.sense_bits += g * mg * (s1 - s0) * int(valid.sum())
    return acc, tally


def bitwise_conv2d(x_int, w_int, abits: int, wbits: int, stride=1, padding=0, groups: int = 1,
                   flip_prob: float = 0.0, generator=None, *, hw: Hardware | None = None,
                   mapping: str = DEFAULT_MAPPING, cols: int | None = None,
                   subarrays_per_tile: int | None = None, pixels_per_row: int | None = None,
                   out_bits: int | None = None, return_counts: bool = False):
    """Integer conv2d through AND + popcount + shift-add on bit-planes.

    ``x_int``: (B, C, H, W) unsigned ints < 2**abits; ``w_int``: (M, C/groups, kh, kw) signed
    ints in [-2**(wbits-1), 2**(wbits-1)). Returns an int64 tensor (B, M, Ho, Wo), and with
    ``return_counts=True`` also the :class:`OpCounts` of the work done (B inferences).

    Placement: the cost model's. By default this layer is placed alone on ``hw`` (default: the
    default preset) with ``mapping``, exactly as ``estimate_layers([layer], hw)`` places it, so
    the counts equal the cost model's; ``cols``/``subarrays_per_tile``/``pixels_per_row``
    override single fields (``execute`` passes each layer's placement in the whole model).
    """
    check_mapping(mapping)
    x, w = _as_int_array(x_int, "x_int"), _as_int_array(w_int, "w_int")
    _check_inputs(x, w, abits, wbits, groups, flip_prob, cols)
    bsz, c = x.shape[:2]
    m, cg, kh, kw = w.shape
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    hw = hw if hw is not None else _default_hw()
    if cols is not None and cols != hw.subarray.cols:
        hw = replace(hw, subarray=replace(hw.subarray, cols=int(cols)))
    cols = hw.subarray.cols
    if subarrays_per_tile is None or pixels_per_row is None:
        s0, r0 = _placement(x.shape, w.shape, stride, padding, groups, wbits, hw, mapping)
        subarrays_per_tile = subarrays_per_tile or s0
        pixels_per_row = pixels_per_row or r0
    r = int(pixels_per_row)
    patches = F.unfold(torch.from_numpy(x).double(), (kh, kw), padding=padding, stride=stride)
    ho = (x.shape[2] + 2 * padding[0] - kh) // stride[0] + 1
    wo = (x.shape[3] + 2 * padding[1] - kw) // stride[1] + 1
    npx = patches.shape[2]
    n = bsz * npx
    k, mg, g = cg * kh * kw, m // groups, groups
    xg = patches.permute(0, 2, 1).reshape(n, g, k).to(torch.int64).numpy().transpose(1, 0, 2)
    wg = (w.reshape(g, mg, k)) & ((1 << wbits) - 1)  # two's complement bit pattern
    tiles = -(-k // cols)
    if r > 1 and k * r > cols:
        raise ValueError(f"pixels_per_row={r} segments of {k} columns exceed {cols} columns")
    valid = np.minimum(cols, k - cols * np.arange(tiles))  # used columns per tile
    # one pixel's segment per packed word group: a sensed row holds r of them side by side
    # (each ANDed with its own copy of the weights and counted by its own counter segment)
    xp = np.stack([_pack(((xg >> i) & 1).astype(np.uint8), tiles, cols) for i in range(abits)])
    wp = np.stack([_pack(((wg >> j) & 1).astype(np.uint8), tiles, cols) for j in range(wbits)])
    rows_per_image = -(-npx // r)  # each image's pixels in sensed rows of r
    q = np.arange(n)
    row_id = (q // npx) * rows_per_image + (q % npx) // r
    n_rows = bsz * rows_per_image
    acc, tally = _and_popcount(xp, wp, row_id, n_rows, r, valid, flip_prob, generator)
    out = acc.sum(axis=-1).reshape(m, bsz, npx).transpose(1, 0, 2).reshape(bsz, m, ho, wo)
    y = torch.from_numpy(np.ascontiguousarray(out))
    if not return_counts:
        return y
    # activation row writes: simulate the channel-interleaved placement of dataflow.py
    s = int(subarrays_per_tile)
    dest = sum(len({ch % s for ch in range(gi * mg, (gi + 1) * mg)}) for gi in range(g))
    used = int(valid.sum())
    return y, OpCounts(
        senses=tally.senses, sense_bits=tally.sense_bits, sensed_cols=tally.senses * cols,
        popcounts=tally.popcounts, shift_adds=tally.popcounts + m * n * (tiles - 1),
        row_writes=n_rows * abits * tiles * dest, write_bits=n * abits * used * dest,
        bus_in_bits=n * abits * used * g,
        bus_out_bits=m * n * (abits if out_bits is None else int(out_bits)),
        psum_bits=m * n * (tiles - 1) * hw.subarray.accumulator_bits)


def bitwise_linear(x_int, w_int, abits: int, wbits: int, flip_prob: float = 0.0,
                   generator=None, **kwargs):
    """Integer linear layer ``x @ w.T`` ((B, K) x (M, K) -> (B, M)) via :func:`bitwise_conv2d`."""
    x, w = _as_int_array(x_int, "x_int"), _as_int_array(w_int, "w_int")
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"need x (B,K) and w (M,K), got {x.shape}, {w.shape}")
    res = bitwise_conv2d(x[:, :, None, None], w[:, :, None, None], abits, wbits,
                         flip_prob=flip_prob, generator=generator, **kwargs)
    if isinstance(res, tuple):
        return res[0][:, :, 0, 0], res[1]
    return res[:, :, 0, 0]
