"""Folder-of-images data (ImageNet layout: ``root/<split>/<class>/<image>``) streamed through a
``torch.utils.data.DataLoader`` with worker processes and a sharded sampler, for data sets too
large to hold as one tensor. Images are decoded with Pillow (no torchvision).

Training images get a random resized crop (scale 0.08-1, aspect 3/4-4/3) and a random
horizontal flip; evaluation images are resized (shorter side ``image_size / 0.875``) and
centre-cropped, as usual for ImageNet. Tensors are float, normalised per channel with ``mean`` /
``std`` of the [0, 1] pixel values.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def scan_folder(root: str) -> tuple[list[tuple[str, int]], list[str]]:
    """``[(path, class index)]`` sorted by class then file name, and the class names (the
    sub-folders of ``root``, sorted)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist")
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir())
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected root/<class>/<image>)")
    samples = []
    for i, c in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, c))):
            samples += [(os.path.join(dirpath, f), i) for f in sorted(files)
                        if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not samples:
        raise ValueError(f"{root}: no images with extensions {IMAGE_EXTENSIONS}")
    return samples, classes


class ImageFolder(Dataset):
    """Images under ``root/<class>/``, as ``(C, H, W)`` normalised float tensors and labels."""

    def __init__(self, root: str, *, image_size: int = 224, train: bool = False,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 channels: int = 3) -> None:
        self.samples, self.classes = scan_folder(root)
        self.image_size, self.train, self.channels = int(image_size), train, channels
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean/std need {channels} values each")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.samples)

    def _crop_box(self, w: int, h: int, rng: random.Random) -> tuple[int, int, int, int]:
        """Random resized crop box (left, top, right, bottom); the centre square on failure."""
        area = w * h
        for _ in range(10):
            target = area * rng.uniform(0.08, 1.0)
            aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
                return x0, y0, x0 + cw, y0 + ch
        s = min(w, h)
        return (w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s

    def load(self, index: int, rng: random.Random | None = None) -> Tensor:
        """Image ``index`` as a normalised tensor (``rng``: the training augmentation's)."""
        from PIL import Image

        path, _ = self.samples[index]
        with Image.open(path) as im:
            im = im.convert("RGB" if self.channels == 3 else "L")
            s = self.image_size
            if self.train:
                rng = rng or random.Random()
                im = im.resize((s, s), Image.BILINEAR, box=self._crop_box(*im.size, rng))
                if rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
            else:
                w, h = im.size
                short = round(s / 0.875)
                scale = short / min(w, h)
                im = im.resize((max(s, round(w * scale)), max(s, round(h * scale))),
                               Image.BILINEAR)
                w, h = im.size
                left, top = (w - s) // 2, (h - s) // 2
                im = im.crop((left, top, left + s, top + s))
            a = np.asarray(im, dtype=np.float32) / 255.0
        t = torch.from_numpy(a.copy()).view(s, s, -1).permute(2, 0, 1)
        return (t - self.mean) / self.std

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.load(index, random.Random() if self.train else None), self.samples[index][1]


def _seed_worker(worker_id: int) -> None:
    """Each worker's augmentation stream from torch's per-worker seed (reproducible)."""
    random.seed(torch.initial_seed() % 2**32)


def folder_loader(dataset: ImageFolder, batch_size: int, *, shuffle: bool = False,
                  rank: int = 0, world_size: int = 1, workers: int = 4, seed: int = 0,
                  drop_last: bool = False, pin_memory: bool = False) -> DataLoader:
    """A ``DataLoader`` over this rank's shard of ``dataset`` (``DistributedSampler``: each of
    the ``world_size`` ranks reads ``1/world_size`` of the images; call
    ``loader.sampler.set_epoch(e)`` per epoch), ``batch_size // world_size`` images per rank
    and batch (the global batch is ``batch_size``), decoded by ``workers`` processes."""
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {world_size} "
                         f"processes")
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                                 seed=seed, drop_last=drop_last)
    g = torch.Generator().manual_seed(seed * 1000 + rank)
    return DataLoader(dataset, batch_size=batch_size // world_size, sampler=sampler,
                      num_workers=workers, worker_init_fn=_seed_worker, generator=g,
                      drop_last=drop_last, pin_memory=pin_memory,
                      persistent_workers=workers > 0)
