"""Fashion-MNIST in the IDX format (``train-images-idx3-ubyte.gz`` ...), checksum-verified."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib

import numpy as np
import torch
from torch import Tensor

DEFAULT_DIRS = ("/usr/share/datasets/fashion-mnist",)  # Debian package dataset-fashion-mnist

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# MD5 of the .gz files as published in the Fashion-MNIST README (zalandoresearch/fashion-mnist).
PUBLISHED_GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
# MD5 of the decompressed IDX payload. Debian's dataset-fashion-mnist re-compresses the files
# (gzip header time 2020-06-05), so its .gz bytes differ from the published ones while the
# payload does not; these were computed from that package's files, whose sizes, headers and
# class counts (6,000 / 1,000 per class) match the published description.
PAYLOAD_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}


def find_dir(data_dir: str | None) -> str:
    """``data_dir`` (a folder holding the four files, or with a ``fashion-mnist`` sub-folder);
    without one, the Debian package's folder."""
    if data_dir and not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data dir {data_dir!r} does not exist")
    candidates = [data_dir, os.path.join(data_dir, "fashion-mnist")] if data_dir \
        else list(DEFAULT_DIRS)
    base = FILES["train_images"]
    for d in candidates:
        if any(os.path.isfile(os.path.join(d, base + ext)) for ext in (".gz", "")):
            return d
    where = data_dir or " or ".join(DEFAULT_DIRS)
    raise FileNotFoundError(
        f"fashion-mnist: {FILES['train_images']}.gz not found in {where}; pass --data-dir with "
        f"the four IDX files (or install Debian's dataset-fashion-mnist)")


def read_idx_file(directory: str, base: str, *, verify: bool = True) -> np.ndarray:
    """Read ``base`` (``.gz`` or plain) from ``directory``; check its MD5 and IDX header."""
    gz, plain = os.path.join(directory, base + ".gz"), os.path.join(directory, base)
    path = gz if os.path.isfile(gz) else plain
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fashion-mnist: missing file {gz} (or {plain})")
    with open(path, "rb") as f:
        raw = f.read()
    if path == gz:
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"fashion-mnist: {path} is corrupt or truncated ({e})") from None
    else:
        data = raw
    if verify and hashlib.md5(raw).hexdigest() != PUBLISHED_GZ_MD5[base] and \
            hashlib.md5(data).hexdigest() != PAYLOAD_MD5[base]:
        raise ValueError(f"fashion-mnist: {path} fails its MD5 check (corrupt, truncated or "
                         f"not the published file)")
    return parse_idx(data, path)


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse an IDX byte string with unsigned-byte payload into an ndarray."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{what}: not an unsigned-byte IDX file (bad magic)")
    ndim = data[3]
    if ndim not in (1, 3) or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{what}: IDX file has {ndim} dimensions, expected 1 or 3")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"{what}: IDX header says {shape} but the file holds {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load_fashion_mnist(data_dir: str | None, *, verify: bool = True
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(train_x, train_y, test_x, test_y)``; images float in [0, 1], shape (N, 1, 28, 28)."""
    d = find_dir(data_dir)
    arrays = {k: read_idx_file(d, v, verify=verify) for k, v in FILES.items()}
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise ValueError(f"fashion-mnist: {split} has {n_img} images but {n_lab} labels")

    def img(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a.copy()).float().div_(255.0).unsqueeze(1)

    def lab(a: np.ndarray) -> Tensor:
        t = torch.from_numpy(a.astype(np.int64))
        if len(t) and int(t.max()) > 9:
            raise ValueError("fashion-mnist: label outside 0..9")
        return t

    return (img(arrays["train_images"]), lab(arrays["train_labels"]),
            img(arrays["test_images"]), lab(arrays["test_labels"]))
