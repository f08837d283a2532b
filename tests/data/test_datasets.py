import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from dynpim.data import load_dataset
from dynpim.data.cifar import read_batch
from dynpim.data.idx import DEFAULT_DIRS, FILES, parse_idx, read_idx_file

HAVE_FMNIST = os.path.isfile(os.path.join(DEFAULT_DIRS[0], FILES["train_labels"] + ".gz"))


def test_synthetic_is_deterministic_and_normalised():
    a, b = load_dataset("synthetic"), load_dataset("synthetic")
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.input_size == (3, 8, 8) and a.num_classes == 4
    assert a.train_y.dtype == torch.int64 and a.train_x.dtype == torch.float32
    full = torch.cat([a.train_x, a.holdout_x])
    assert torch.allclose(full.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(full.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)


def test_holdout_comes_from_training_set_and_depends_on_seed():
    d0 = load_dataset("digits", holdout=100, split_seed=0)
    d1 = load_dataset("digits", holdout=100, split_seed=1)
    assert len(d0.holdout_y) == 100 and len(d0.train_y) + 100 == 1797 - len(d0.test_y)
    assert torch.equal(d0.test_x, d1.test_x)  # the test set never moves
    assert not torch.equal(d0.holdout_x, d1.holdout_x)
    # holdout samples are not in the training split
    tr = {tuple(r.tolist()) for r in d0.train_x.flatten(1)}
    assert not any(tuple(r.tolist()) in tr for r in d0.holdout_x.flatten(1)[:20])
    assert d0.input_size == (1, 8, 8) and d0.flip is False


def test_bad_names_and_holdout():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="holdout"):
        load_dataset("synthetic", holdout=10_000)


def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def test_parse_idx_roundtrip_and_errors():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(_idx(a)), a)
    with pytest.raises(ValueError, match="bad magic"):
        parse_idx(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="header says"):
        parse_idx(_idx(a)[:-1])


def test_fashion_missing_dir_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("fashion-mnist", data_dir=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset("fashion-mnist", data_dir=str(tmp_path))


def test_fashion_corrupt_file_is_named(tmp_path):
    a = np.zeros((2, 28, 28), np.uint8)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(a[:, 0, 0]))[:-5])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is corrupt or truncated"):
        read_idx_file(str(tmp_path), "t10k-labels-idx1-ubyte")
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(a[:, 0, 0])))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz fails its MD5"):
        read_idx_file(str(tmp_path), "train-labels-idx1-ubyte")


@pytest.mark.skipif(not HAVE_FMNIST, reason="Debian dataset-fashion-mnist not installed")
def test_real_fashion_labels_pass_checksum():
    y = read_idx_file(DEFAULT_DIRS[0], "t10k-labels-idx1-ubyte")
    assert y.shape == (10_000,) and np.bincount(y).tolist() == [1000] * 10


def _write_cifar(root, n=6, protocol=2):
    d = root / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        obj = {b"batch_label": b"fake", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
               b"labels": [int(v) for v in rng.integers(0, 10, n)],
               b"filenames": [b"x.png"] * n}
        (d / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    return d


def test_cifar_fake_batches_load(tmp_path):
    _write_cifar(tmp_path)
    s = load_dataset("cifar10", data_dir=str(tmp_path), holdout=5)
    assert s.input_size == (3, 32, 32) and len(s.train_y) == 25 and len(s.test_y) == 6
    assert s.flip and s.crop_padding == 4


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_rejects_code_and_wrong_structure(tmp_path):
    d = _write_cifar(tmp_path)
    (d / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}))
    with pytest.raises(ValueError, match="forbidden global"):
        read_batch(str(d / "data_batch_3"))
    (d / "data_batch_2").write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8),
                                                   b"labels": [0, 1]}))
    with pytest.raises(ValueError, match="shape"):
        read_batch(str(d / "data_batch_2"))
    (d / "data_batch_1").write_bytes(b"\x80\x02garbage")
    with pytest.raises(ValueError, match="not a valid CIFAR batch"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="needs --data-dir"):
        load_dataset("cifar10")


def test_split_names_and_selection_contract():
    from dynpim.data import canonical_split, selection_split

    s = load_dataset("digits", holdout=100, split_seed=3)
    assert canonical_split("holdout") == "validation" and canonical_split("test") == "test"
    x, y = s.split("validation")
    assert torch.equal(x, s.holdout_x) and torch.equal(y, s.validation_y)
    assert torch.equal(s.split("holdout")[1], s.holdout_y)
    assert torch.equal(s.split("test")[0], s.test_x)
    assert s.summary()["validation"] == 100
    assert selection_split() == "validation" and selection_split("holdout") == "validation"
    with pytest.raises(ValueError, match=r"--table-split test.*validation"):
        selection_split("test", option="--table-split")
    with pytest.raises(ValueError, match="unknown split"):
        canonical_split("dev")
