"""CIFAR-10 from the python-pickle batches (``cifar-10-batches-py/``), read without running
arbitrary code: a restricted unpickler that only rebuilds plain containers and uint8 arrays."""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np
import torch
from torch import Tensor

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

# The only globals a CIFAR batch pickle needs (numpy array reconstruction).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2 (harmless)
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 3, 32, 32), labels int64 (N,))`` from one batch file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cifar10: missing batch file {path}")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # any unpickling failure means a bad file
        raise ValueError(f"cifar10: {path} is not a valid CIFAR batch ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"cifar10: {path} holds a {type(obj).__name__}, expected a dict")
    obj = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    data, labels = obj.get("data"), obj.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"cifar10: {path}: 'data' must be a uint8 array of shape (N, 3072)")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(
            isinstance(v, int) and 0 <= v <= 9 for v in labels):
        raise ValueError(f"cifar10: {path}: 'labels' must be {len(data)} ints in 0..9")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def find_dir(data_dir: str | None) -> str:
    if not data_dir:
        raise FileNotFoundError("cifar10 needs --data-dir (the folder holding "
                                "cifar-10-batches-py/ or the batch files)")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data dir {data_dir!r} does not exist")
    for d in (os.path.join(data_dir, "cifar-10-batches-py"), data_dir):
        if os.path.isfile(os.path.join(d, TEST_BATCH)):
            return d
    raise FileNotFoundError(f"cifar10: no cifar-10-batches-py/{TEST_BATCH} under {data_dir}")


def load_cifar10(data_dir: str | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(train_x, train_y, test_x, test_y)``; images float in [0, 1], shape (N, 3, 32, 32)."""
    d = find_dir(data_dir)
    parts = [read_batch(os.path.join(d, b)) for b in TRAIN_BATCHES]
    tx, ty = read_batch(os.path.join(d, TEST_BATCH))

    def img(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).float().div_(255.0)

    return (img(np.concatenate([p[0] for p in parts])),
            torch.from_numpy(np.concatenate([p[1] for p in parts])), img(tx), torch.from_numpy(ty))
