"""Datasets as normalised tensors (fashion-mnist, cifar10, digits, synthetic), tensor
augmentation and a worker-free batch iterator."""

from __future__ import annotations

from .batches import Augment, iterate_batches, num_batches
from .splits import SPLITS, DatasetSplits, canonical_split, make_splits, selection_split

# name -> (classes, default holdout size, crop padding, horizontal flip). Mirrored clothes and
# CIFAR objects keep their label; mirrored digits do not, so digits are never flipped.
DATASETS: dict[str, tuple[int, int, int, bool]] = {
    "fashion-mnist": (10, 5000, 2, True),
    "cifar10": (10, 2500, 4, True),  # 2,500 held-out images as in the authors' search
    "digits": (10, 300, 1, False),
    "synthetic": (4, 64, 0, False),
    "tensors": (0, 1000, 0, False),  # bring your own; classes counted from the labels
}


def list_datasets() -> list[str]:
    return list(DATASETS)


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    split_seed: int = 0,
    holdout: int | None = None,
    verify: bool = True,
) -> DatasetSplits:
    """Load ``name`` as :class:`DatasetSplits`; ``holdout`` samples of the training set are
    kept aside (default per dataset, see ``DATASETS``) for search and BN calibration."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    num_classes, default_holdout, pad, flip = DATASETS[name]
    if name == "fashion-mnist":
        from .idx import load_fashion_mnist

        parts = load_fashion_mnist(data_dir, verify=verify)
    elif name == "cifar10":
        from .cifar import load_cifar10

        parts = load_cifar10(data_dir)
    elif name == "digits":
        from .small import load_digits_tensors

        parts = load_digits_tensors()
    elif name == "tensors":
        from .tensors import load_tensor_folder

        tx, ty, vx, vy, num_classes = load_tensor_folder(data_dir)
        parts = (tx, ty, vx, vy)
        default_holdout = min(default_holdout, len(ty) // 10)
    else:
        from .small import load_synthetic

        parts = load_synthetic()
    return make_splits(name, *parts, num_classes=num_classes,
                       holdout=default_holdout if holdout is None else int(holdout),
                       split_seed=split_seed, crop_padding=pad, flip=flip)


def augment_for(splits: DatasetSplits) -> Augment:
    """The augmentation that suits ``splits`` (crop padding and flip from the dataset)."""
    return Augment(splits.crop_padding, splits.flip)


__all__ = [
    "DATASETS",
    "SPLITS",
    "Augment",
    "DatasetSplits",
    "augment_for",
    "canonical_split",
    "iterate_batches",
    "list_datasets",
    "load_dataset",
    "make_splits",
    "num_batches",
    "selection_split",
]
