"""Layer shapes of a dynamic model at a sub-net config: the one description that MAC counting
and the PIM cost model both read."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


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
        k = (self.in_channels // self.groups) * kh * kw
        return self.out_channels, k, self.out_hw[0] * self.out_hw[1]

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
        return replace(self, in_channels=in_channels, out_channels=out_channels, groups=groups)


def widths_matrix(specs: list[LayerSpec], configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised in/out channel counts: ``configs`` is (n_configs, n_slots) -> two
    (n_configs, n_layers) int64 arrays, using each layer's max width where its slot is fixed."""
    configs = np.asarray(configs, dtype=np.int64)
    n = configs.shape[0]
    cin = np.empty((n, len(specs)), dtype=np.int64)
    cout = np.empty((n, len(specs)), dtype=np.int64)
    for j, s in enumerate(specs):
        cin[:, j] = configs[:, s.in_slot] if s.in_slot is not None else s.in_channels
        cout[:, j] = configs[:, s.out_slot] if s.out_slot is not None else s.out_channels
    return cin, cout
