"""Bring-your-own data set as tensors: ``train.safetensors`` and ``test.safetensors`` in one
folder, each holding ``x`` (N, C, H, W; uint8 in 0..255 or float in [0, 1]) and ``y`` (N,
integer class labels 0..K-1). This is how ImageNet (or any image folder) enters dynpim without
torchvision: resize/crop once with your own tool, save the tensors, train on them."""

from __future__ import annotations

import os

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

FILES = ("train.safetensors", "test.safetensors")


def _read(path: str) -> tuple[Tensor, Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tensors data set: {path} is missing (need {', '.join(FILES)})")
    try:
        d = load_file(path)
    except (SafetensorError, OSError) as e:
        raise ValueError(f"tensors data set: cannot read {path} ({e})") from None
    if set(d) != {"x", "y"}:
        raise ValueError(f"{path}: expected exactly the tensors 'x' and 'y', got {sorted(d)}")
    x, y = d["x"], d["y"]
    if x.dim() != 4 or y.dim() != 1 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"{path}: need x of shape (N, C, H, W) and y of shape (N,), got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)
    elif x.is_floating_point():
        x = x.float()
    else:
        raise ValueError(f"{path}: x must be uint8 or floating point, got {x.dtype}")
    if y.is_floating_point() or y.dtype == torch.bool or int(y.min()) < 0:
        raise ValueError(f"{path}: y must hold non-negative integer class labels")
    return x, y.long()


def load_tensor_folder(data_dir: str | None) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """``(train_x, train_y, test_x, test_y, num_classes)`` from ``data_dir``."""
    if data_dir is None:
        raise FileNotFoundError("the tensors data set needs --data-dir (a folder holding "
                                f"{' and '.join(FILES)})")
    tx, ty = _read(os.path.join(data_dir, FILES[0]))
    vx, vy = _read(os.path.join(data_dir, FILES[1]))
    if tx.shape[1:] != vx.shape[1:]:
        raise ValueError(f"train images are {tuple(tx.shape[1:])} but test images are "
                         f"{tuple(vx.shape[1:])}")
    return tx, ty, vx, vy, int(max(ty.max(), vy.max())) + 1
