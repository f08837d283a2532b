"""``DatasetSplits``: normalised train / holdout / test tensors and what the model needs to know.

The *holdout* split is carved out of the training set (never the test set); search and BN
calibration read it so that test accuracy stays an unbiased estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class DatasetSplits:
    """Float tensors ``(N, C, H, W)`` normalised per channel, int64 labels ``(N,)``.

    ``crop_padding``/``flip`` describe the augmentation that makes sense for this dataset
    (applied per batch by :func:`dynpim.data.iterate_batches`, training split only).
    """

    name: str
    train_x: Tensor
    train_y: Tensor
    holdout_x: Tensor
    holdout_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int = 0
    flip: bool = False

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one sample."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def to(self, device: str | torch.device) -> DatasetSplits:
        """The same splits with every tensor moved to ``device`` (e.g. the whole set on a GPU)."""
        return replace(self, **{k: getattr(self, k).to(device) for k in _TENSORS})

    def summary(self) -> dict:
        return {"name": self.name, "train": len(self.train_y), "holdout": len(self.holdout_y),
                "test": len(self.test_y), "input_size": list(self.input_size),
                "num_classes": self.num_classes}


_TENSORS = ("train_x", "train_y", "holdout_x", "holdout_y", "test_x", "test_y")


def make_splits(
    name: str,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    *,
    num_classes: int,
    holdout: int,
    split_seed: int,
    crop_padding: int = 0,
    flip: bool = False,
) -> DatasetSplits:
    """Normalise with the training set's per-channel mean/std and carve out ``holdout`` samples.

    ``train_x``/``test_x`` are float tensors in [0, 1] (any scale works); labels int64.
    """
    n = len(train_y)
    if not 0 <= holdout < n:
        raise ValueError(f"holdout must be in [0, {n - 1}] for {name} ({n} training samples), "
                         f"got {holdout}")
    train_x = train_x.float()
    mean = train_x.mean(dim=(0, 2, 3))
    std = train_x.std(dim=(0, 2, 3)).clamp_min(1e-6)

    def norm(x: Tensor) -> Tensor:
        return ((x.float() - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()

    g = torch.Generator().manual_seed(int(split_seed))
    perm = torch.randperm(n, generator=g)
    hold_idx, train_idx = perm[:holdout].sort().values, perm[holdout:].sort().values
    x = norm(train_x)
    return DatasetSplits(
        name=name,
        train_x=x[train_idx], train_y=train_y[train_idx].long(),
        holdout_x=x[hold_idx], holdout_y=train_y[hold_idx].long(),
        test_x=norm(test_x), test_y=test_y.long(),
        num_classes=num_classes,
        mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
        crop_padding=crop_padding, flip=flip,
    )
