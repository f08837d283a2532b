"""Small datasets that need no files: scikit-learn's 8x8 digits and deterministic synthetic data."""

from __future__ import annotations

import torch
from torch import Tensor


def load_digits_tensors(test_fraction: float = 0.25) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's bundled digits (1,797 images, 1x8x8, 10 classes); a fixed 25 % test split
    (seed 0, independent of the holdout seed so the test set never changes)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images).float().div_(16.0).unsqueeze(1)
    y = torch.from_numpy(d.target).long()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_test = int(round(len(y) * test_fraction))
    te, tr = perm[:n_test].sort().values, perm[n_test:].sort().values
    return x[tr], y[tr], x[te], y[te]


SYNTHETIC_SHAPE = (3, 8, 8)
SYNTHETIC_CLASSES = 4


def load_synthetic(n_train: int = 512, n_test: int = 128, seed: int = 1234
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Deterministic, learnable data: one random prototype image per class plus noise."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(SYNTHETIC_CLASSES, *SYNTHETIC_SHAPE, generator=g)

    def make(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randint(SYNTHETIC_CLASSES, (n,), generator=g)
        x = (protos[y] + 0.35 * torch.randn(n, *SYNTHETIC_SHAPE, generator=g)).clamp(0, 1)
        return x, y

    tx, ty = make(n_train)
    vx, vy = make(n_test)
    return tx, ty, vx, vy
