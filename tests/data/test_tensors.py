import pytest
import torch
from safetensors.torch import save_file

from dynpim.data import load_dataset


def write(folder, n_train=60, n_test=20, x_dtype=torch.uint8, keys=("x", "y")):
    g = torch.Generator().manual_seed(0)
    for name, n in (("train", n_train), ("test", n_test)):
        x = torch.randint(0, 256, (n, 3, 12, 12), generator=g).to(x_dtype)
        y = torch.arange(n) % 5
        save_file(dict(zip(keys, (x, y))), str(folder / f"{name}.safetensors"))


def test_tensor_folder_loads_and_counts_classes(tmp_path):
    write(tmp_path)
    s = load_dataset("tensors", data_dir=str(tmp_path), holdout=10)
    assert s.num_classes == 5 and s.input_size == (3, 12, 12)
    assert len(s.train_y) == 50 and len(s.holdout_y) == 10 and len(s.test_y) == 20
    assert abs(float(s.train_x.mean())) < 0.2


def test_tensor_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_dataset("tensors")
    with pytest.raises(FileNotFoundError, match="train.safetensors is missing"):
        load_dataset("tensors", data_dir=str(tmp_path))
    write(tmp_path, keys=("images", "labels"))
    with pytest.raises(ValueError, match="exactly the tensors 'x' and 'y'"):
        load_dataset("tensors", data_dir=str(tmp_path))
    write(tmp_path, x_dtype=torch.int32)
    with pytest.raises(ValueError, match="uint8 or floating"):
        load_dataset("tensors", data_dir=str(tmp_path))
    (tmp_path / "train.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read"):
        load_dataset("tensors", data_dir=str(tmp_path))
