"""``DatasetSplits``: normalised train / validation / test tensors and what the model needs.

The *validation* split (stored as ``holdout_x``/``holdout_y``; "holdout" is accepted as its old
name) is carved out of the training set with a fixed seed (never the test set). Splits are a
contract: everything that *selects* (search, filtering, Pareto sets, the operating table, the
best static point) reads validation; test accuracy is only reported.
:func:`selection_split` enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

SPLITS = ("train", "validation", "test")
ALIASES = {"holdout": "validation", "val": "validation"}


def canonical_split(name: str) -> str:
    """``name`` as one of :data:`SPLITS` ("holdout" and "val" mean "validation")."""
    out = ALIASES.get(name, name)
    if out not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
    return out


def selection_split(name: str = "validation", *, option: str = "split") -> str:
    """The split a *selection* may read: "validation" (its aliases accepted, returned
    canonical). Selecting on "test" (or "train") raises a ValueError naming ``option``."""
    split = canonical_split(name)
    if split != "validation":
        raise ValueError(f"refusing to select on the {split} split ({option} {name}): "
                         f"selection (Pareto filter, operating table, search, best static "
                         f"point) must use the validation split; test accuracy is for reporting "
                         f"only (e.g. dynpim eval --split test)")
    return split


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

    @property
    def validation_x(self) -> Tensor:
        """The validation images (carved from the training data with ``split_seed``)."""
        return self.holdout_x

    @property
    def validation_y(self) -> Tensor:
        """The validation labels."""
        return self.holdout_y

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of split ``name`` ("train", "validation" or "holdout", "test")."""
        which = {"train": "train", "validation": "holdout", "test": "test"}[canonical_split(name)]
        return getattr(self, f"{which}_x"), getattr(self, f"{which}_y")

    def to(self, device: str | torch.device) -> DatasetSplits:
        """The same splits with every tensor moved to ``device`` (e.g. the whole set on a GPU)."""
        return replace(self, **{k: getattr(self, k).to(device) for k in _TENSORS})

    def summary(self) -> dict:
        """Sizes of the splits and the input shape (``holdout`` kept as the old name)."""
        return {"name": self.name, "train": len(self.train_y),
                "validation": len(self.holdout_y), "holdout": len(self.holdout_y),
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
