"""Folder-of-images data: scanning, decoding, sharding over ranks, worker processes."""

import numpy as np
import pytest
import torch
from PIL import Image

from dynpim.data.folder import ImageFolder, folder_loader, scan_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "fish"):
        (root / c).mkdir()
        for i in range(5):
            a = rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8)
            Image.fromarray(a).save(root / c / f"{i}.png")
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


def test_scan_and_eval_transform(folder):
    samples, classes = scan_folder(str(folder))
    assert classes == ["cat", "dog", "fish"] and len(samples) == 15
    ds = ImageFolder(str(folder), image_size=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    x, y = ds[7]
    assert x.shape == (3, 16, 16) and y == 1
    # eval transform: resize shorter side to 16/0.875 = 18, centre crop 16; values normalised
    im = Image.open(samples[7][0]).convert("RGB")
    w, h = im.size
    im = im.resize((max(16, round(w * 18 / min(w, h))), max(16, round(h * 18 / min(w, h)))),
                   Image.BILINEAR)
    left, top = (im.size[0] - 16) // 2, (im.size[1] - 16) // 2
    ref = np.asarray(im.crop((left, top, left + 16, top + 16)), dtype=np.float32) / 255
    torch.testing.assert_close(x, (torch.from_numpy(ref).permute(2, 0, 1) - 0.5) / 0.25)
    assert torch.equal(ds[7][0], x)  # deterministic without augmentation


def test_ranks_read_disjoint_shards_covering_the_data(folder):
    ds = ImageFolder(str(folder), image_size=8, train=True)
    seen = []
    for rank in range(2):
        loader = folder_loader(ds, 4, shuffle=True, rank=rank, world_size=2, workers=0, seed=3)
        loader.sampler.set_epoch(1)
        idx = list(loader.sampler)
        assert len(idx) == 8  # 15 images padded to 16, 8 per rank
        seen.append(idx)
        for x, _ in loader:
            assert x.shape[1:] == (3, 8, 8) and len(x) <= 2  # per-rank share of the batch
    assert set(seen[0]) | set(seen[1]) == set(range(15))


def test_worker_processes_decode_every_image(folder):
    ds = ImageFolder(str(folder), image_size=8)
    loader = folder_loader(ds, 5, workers=2)
    ys = torch.cat([y for _, y in loader])
    assert ys.tolist() == [s[1] for s in ds.samples]


def _imagenet_layout(root, classes=("a", "b"), per_class=(4, 2)):
    rng = np.random.default_rng(1)
    for split, n in zip(("train", "val"), per_class):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                a = rng.integers(0, 256, size=(12 + i, 10, 3), dtype=np.uint8)
                Image.fromarray(a).save(root / split / c / f"{i}.png")
    return root


def test_pack_image_folder_writes_the_tensors_format(tmp_path):
    from dynpim.data import load_dataset
    from dynpim.data.folder import pack_image_folder

    root = _imagenet_layout(tmp_path / "in")
    counts = pack_image_folder(str(root), str(tmp_path / "packed"), image_size=8, workers=0)
    assert counts == {"classes": 2, "train_images": 8, "test_images": 4}
    splits = load_dataset("tensors", data_dir=str(tmp_path / "packed"), holdout=2)
    assert splits.input_size == (3, 8, 8) and splits.num_classes == 2
    assert len(splits.train_y) + len(splits.holdout_y) == 8 and len(splits.test_y) == 4
    # the packed pixels are the evaluation transform's, rounded to uint8
    from safetensors.torch import load_file

    x = load_file(str(tmp_path / "packed" / "train.safetensors"))["x"]
    ref = ImageFolder(str(root / "train"), image_size=8, mean=(0,) * 3, std=(1,) * 3)[0][0]
    assert x.dtype == torch.uint8 and x.shape == (8, 3, 8, 8)
    assert torch.equal(x[0], ref.mul(255).round().to(torch.uint8))


def test_pack_image_folder_rejects_bad_layouts(tmp_path):
    from dynpim.data.folder import pack_image_folder

    root = _imagenet_layout(tmp_path / "in")
    with pytest.raises(ValueError, match="image_size"):
        pack_image_folder(str(root), str(tmp_path / "o"), image_size=0)
    (root / "val" / "b").rename(root / "val" / "c")
    with pytest.raises(ValueError, match="class folders"):
        pack_image_folder(str(root), str(tmp_path / "o"), image_size=8, workers=0)
    with pytest.raises(FileNotFoundError, match="no test"):
        pack_image_folder(str(root), str(tmp_path / "o"), test_split="test")
