"""Layer shapes of a dynamic model at a sub-net config: the one description that MAC counting
and the PIM cost model both read. :func:`gemm_dims` is the one rule from channel counts to GEMM
dimensions, :class:`LayerGeometry` the one road from (validated) configs to channel counts; a
model's :class:`dynpim.nn.LayerTable` holds both for its layers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class LayerSpec:
    """One conv / depthwise conv / linear layer of the active sub-net.

    ``in_slot``/``out_slot`` are indices into ``model.slots`` (``None``: fixed width, e.g. the
    image channels or the classes). Spatial sizes are in pixels; linear layers use 1x1.
    """

    name: str
    kind: str  # "conv" | "dwconv" | "linear"
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    in_slot: int | None
    out_slot: int | None
    bias: bool

    @property
    def gemm(self) -> tuple[int, int, int]:
        """GEMM dims (M, K, N): M = out channels, K = inputs per output, N = output pixels.

        For a depthwise conv each channel is its own GEMM with M = 1; we report M = channels and
        K = kh*kw (the per-output reduction length), which is what the dataflow maps.
        """
        kh, kw = self.kernel_size
        m, k, n, _ = gemm_dims(self.in_channels, self.out_channels, kh * kw,
                               self.out_hw[0] * self.out_hw[1], self.kind == "dwconv", self.groups)
        return int(m), int(k), int(n)

    @property
    def macs(self) -> int:
        m, k, n = self.gemm
        return m * k * n

    @property
    def params(self) -> int:
        kh, kw = self.kernel_size
        w = self.out_channels * (self.in_channels // self.groups) * kh * kw
        return w + (self.out_channels if self.bias else 0)

    def at(self, in_channels: int, out_channels: int) -> LayerSpec:
        """The same layer with other channel counts (depthwise: groups follow the channels)."""
        groups = in_channels if self.kind == "dwconv" else self.groups
        # ``dataclasses.replace`` without re-running __init__ (a plain frozen record; this is on
        # the path of every single-config estimate)
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__, in_channels=in_channels, out_channels=out_channels,
                            groups=groups)
        return out


def gemm_dims(cin: Any, cout: Any, khkw: Any, npix: Any, depthwise: Any, groups: Any
              ) -> tuple[Any, Any, Any, Any]:
    """The one rule from channel counts to GEMM dimensions ``(m, k, n, g)``, elementwise over
    numpy arrays (or for one layer's numbers): M = out channels, K = inputs per output (a
    depthwise layer: the kernel area, one group per channel), N = output pixels, G = groups."""
    g = np.where(depthwise, cout, groups)
    k = np.where(depthwise, khkw, (cin // np.where(depthwise, 1, groups)) * khkw)
    n = np.broadcast_to(npix, np.shape(cout))
    return cout, k, n, g


@dataclass(frozen=True, eq=False)
class LayerGeometry:
    """What turns configs into the channel counts and GEMM dimensions of a list of layers:
    per layer (each an ``(n_layers,)`` int64 / bool array) the max widths, the slot index of
    the input / output width (-1: fixed at the max width), the kernel area, the output pixels,
    whether it is depthwise and its groups."""

    max_in: np.ndarray
    max_out: np.ndarray
    in_slot: np.ndarray
    out_slot: np.ndarray
    khkw: np.ndarray
    npix: np.ndarray
    depthwise: np.ndarray
    groups: np.ndarray

    @classmethod
    def of(cls, specs: Sequence[LayerSpec]) -> LayerGeometry:
        rows = np.array([(s.in_channels, s.out_channels,
                          -1 if s.in_slot is None else s.in_slot,
                          -1 if s.out_slot is None else s.out_slot,
                          s.kernel_size[0] * s.kernel_size[1], s.out_hw[0] * s.out_hw[1],
                          s.kind == "dwconv", s.groups) for s in specs],
                        dtype=np.int64).reshape(len(specs), 8)
        max_in, max_out, in_slot, out_slot, khkw, npix, dw, groups = (
            np.ascontiguousarray(rows[:, i]) for i in range(8))
        return cls(max_in, max_out, in_slot, out_slot, khkw, npix, dw.astype(bool), groups)

    def channels(self, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """In/out channel counts ``(n_configs, n_layers)`` (int64) of an already validated
        ``(n_configs, n_slots)`` array: each layer's slot width, its max width where fixed."""
        return _take(configs, self.in_slot, self.max_in), _take(configs, self.out_slot,
                                                                self.max_out)

    def gemm(self, cin: ArrayLike, cout: ArrayLike
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(m, k, n, g)`` arrays of these layers at ``cin``/``cout`` (shape ``(...,
        n_layers)``), by :func:`gemm_dims`."""
        cin, cout = np.asarray(cin, dtype=np.int64), np.asarray(cout, dtype=np.int64)
        return gemm_dims(cin, cout, self.khkw, self.npix, self.depthwise, self.groups)

    def macs(self, configs: np.ndarray) -> np.ndarray:
        """Multiply-accumulates per config (int64) of an already validated configs array."""
        m, k, n, _ = self.gemm(*self.channels(configs))
        return (m * k * n).sum(axis=-1)


def _take(configs: np.ndarray, slot: np.ndarray, full: np.ndarray) -> np.ndarray:
    """``configs[:, slot]`` per layer, ``full`` where the slot index is -1; C-ordered (the
    layout fixes the order in which later sums over layers add, so the costs bit for bit)."""
    fixed = slot < 0
    if configs.shape[1] == 0:  # no slots: every width fixed
        return np.broadcast_to(full, (configs.shape[0], len(full))).copy()
    out = np.ascontiguousarray(configs.take(np.maximum(slot, 0), axis=1))
    if fixed.any():
        out[:, fixed] = full[fixed]
    return out


def widths_matrix(specs: Sequence[LayerSpec], configs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised in/out channel counts: ``configs`` is (n_configs, n_slots) -> two
    (n_configs, n_layers) int64 arrays, using each layer's max width where its slot is fixed
    (:meth:`LayerGeometry.channels`; no validation — :meth:`dynpim.nn.LayerTable.widths`
    validates)."""
    return LayerGeometry.of(specs).channels(np.asarray(configs, dtype=np.int64))
