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
from PIL import Image
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


class ImageFolder(Dataset[tuple[Tensor, int]]):
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

    def _transform(self, im: Image.Image, rng: random.Random | None) -> Image.Image:
        """Training: random resized crop + flip; evaluation: resize + centre crop."""
        s = self.image_size
        bilinear = Image.Resampling.BILINEAR
        if self.train:
            rng = rng or random.Random()
            im = im.resize((s, s), bilinear, box=self._crop_box(*im.size, rng))
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            return im
        w, h = im.size
        scale = round(s / 0.875) / min(w, h)
        im = im.resize((max(s, round(w * scale)), max(s, round(h * scale))), bilinear)
        left, top = (im.size[0] - s) // 2, (im.size[1] - s) // 2
        return im.crop((left, top, left + s, top + s))

    def load(self, index: int, rng: random.Random | None = None) -> Tensor:
        """Image ``index`` as a normalised tensor (``rng``: the training augmentation's)."""
        path, _ = self.samples[index]
        with Image.open(path) as f:
            a = np.asarray(self._transform(f.convert("RGB" if self.channels == 3 else "L"), rng),
                           dtype=np.float32) / 255.0
        s = self.image_size
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
    sampler: DistributedSampler[int] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed,
        drop_last=drop_last)
    g = torch.Generator().manual_seed(seed * 1000 + rank)
    return DataLoader(dataset, batch_size=batch_size // world_size, sampler=sampler,
                      num_workers=workers, worker_init_fn=_seed_worker, generator=g,
                      drop_last=drop_last, pin_memory=pin_memory,
                      persistent_workers=workers > 0)


def _decode_all(dataset: ImageFolder, workers: int, batch_size: int = 64) -> tuple[Tensor, Tensor]:
    """Every image of ``dataset`` (evaluation transform) as ``uint8`` ``(N, C, H, W)`` and its
    labels, decoded by ``workers`` DataLoader processes."""
    loader = folder_loader(dataset, batch_size, workers=workers)
    xs, ys = [], []
    for x, y in loader:
        pixels = x * dataset.std + dataset.mean  # back to [0, 1]
        xs.append(pixels.mul(255).round().clamp(0, 255).to(torch.uint8))
        ys.append(y.long())
    return torch.cat(xs), torch.cat(ys)


def pack_image_folder(root: str, out_dir: str, *, image_size: int = 64, workers: int = 4,
                      test_split: str | None = None) -> dict[str, int]:
    """Convert an ImageNet-layout folder (``root/train/<class>/*`` and ``root/val/<class>/*``,
    or ``root/test/...``) into dynpim's ``tensors`` data set (``out_dir/train.safetensors``,
    ``out_dir/test.safetensors``; uint8 pixels), resized and centre-cropped to
    ``image_size`` px and decoded by ``workers`` processes. ``dynpim train --dataset tensors
    --data-dir out_dir`` then trains on it. Returns the image and class counts."""
    from safetensors.torch import save_file

    if image_size < 1:
        raise ValueError(f"image_size must be >= 1 pixel, got {image_size}")
    names = [test_split] if test_split else ["val", "test"]
    test_dir = next((os.path.join(root, n) for n in names
                     if os.path.isdir(os.path.join(root, n))), None)
    if test_dir is None:
        raise FileNotFoundError(f"{root}: no {' or '.join(names)} sub-folder beside train/")
    train_set = ImageFolder(os.path.join(root, "train"), image_size=image_size)
    test_set = ImageFolder(test_dir, image_size=image_size)
    if test_set.classes != train_set.classes:
        raise ValueError(f"{root}: the class folders of train/ and {os.path.basename(test_dir)}/"
                         f" differ ({len(train_set.classes)} vs {len(test_set.classes)} classes)")
    os.makedirs(out_dir, exist_ok=True)
    counts = {"classes": len(train_set.classes)}
    for name, ds in (("train", train_set), ("test", test_set)):
        x, y = _decode_all(ds, workers)
        save_file({"x": x.contiguous(), "y": y}, os.path.join(out_dir, f"{name}.safetensors"),
                  metadata={"source": os.path.abspath(root), "image_size": str(image_size),
                            "classes": ",".join(train_set.classes)})
        counts[f"{name}_images"] = len(y)
    return counts
