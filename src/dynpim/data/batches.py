"""Tensor augmentation and a worker-free batch iterator (the whole split lives in one tensor,
on the CPU or the GPU), with data-parallel sharding of each global batch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augment:
    """Random crop after zero padding (``crop_padding`` pixels; zero = the dataset mean after
    normalisation) and random horizontal flip."""

    crop_padding: int = 0
    flip: bool = False

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.flip

    def draw(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        """Per-sample random parameters (row offset, column offset, flip) on the CPU."""
        hi = 2 * self.crop_padding + 1
        oy = torch.randint(hi, (n,), generator=generator)
        ox = torch.randint(hi, (n,), generator=generator)
        fl = torch.rand(n, generator=generator) < 0.5 if self.flip \
            else torch.zeros(n, dtype=torch.bool)
        return oy, ox, fl

    def apply(self, x: Tensor, params: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """Augment the batch ``x`` (N, C, H, W) with parameters from :meth:`draw`."""
        oy, ox, fl = (p.to(x.device, non_blocking=True) for p in params)
        if self.crop_padding > 0:
            p = self.crop_padding
            n, c, h, w = x.shape
            xp = F.pad(x, (p, p, p, p))
            rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
            cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
            bi = torch.arange(n, device=x.device)[:, None, None, None]
            ci = torch.arange(c, device=x.device)[None, :, None, None]
            x = xp[bi, ci, rows, cols]
        if self.flip:
            x = torch.where(fl[:, None, None, None], x.flip(3), x)
        return x


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def iterate_batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    augment: Augment | None = None,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
    start_batch: int = 0,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(x, y)`` batches of ``batch_size`` samples (the *global* batch).

    With ``world_size > 1`` each rank gets its contiguous share of every global batch
    (``batch_size`` must divide evenly), so K processes see exactly the samples one process
    would. Random draws (permutation, augmentation) come from ``generator`` in a fixed order,
    so ranks sharing a seed agree, and ``start_batch`` skips batches while consuming the same
    draws (resume in the middle of an epoch).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
    n = len(y)
    if len(x) != n:
        raise ValueError(f"x has {len(x)} samples but y has {n}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    aug = augment if augment is not None and augment.active else None
    for b in range(num_batches(n, batch_size, drop_last)):
        idx = order[b * batch_size:(b + 1) * batch_size]
        params = aug.draw(len(idx), generator) if aug is not None else None
        if b < start_batch:
            continue
        share = len(idx) // world_size
        lo = rank * share
        hi = lo + share if rank < world_size - 1 else len(idx)
        dev_idx = idx[lo:hi].to(x.device, non_blocking=True)
        xb, yb = x[dev_idx], y[dev_idx]
        if aug is not None and params is not None:
            oy, ox, fl = params
            xb = aug.apply(xb, (oy[lo:hi], ox[lo:hi], fl[lo:hi]))
        yield xb, yb
