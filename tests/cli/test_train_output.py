"""What ``dynpim train`` / ``dynpim eval`` print: results with or without progress bars, no bar
lines when the output is not a terminal, accuracy in %, and ``--threads``."""

import pytest
import torch

from dynpim.cli import main

FAST = ["--dataset", "synthetic", "--model", "lenet", "--batch-size", "64", "--calib-batches",
        "2", "--num-random", "1"]


@pytest.fixture
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("progress", [[], ["--no-progress"]], ids=["bars-asked", "no-progress"])
def test_train_prints_epoch_lines_and_table(tmp_path, capsys, keep_threads, progress):
    out = str(tmp_path / "run")
    assert main(["train", *FAST, "--epochs", "2", "--threads", "1", "--out", out,
                 *progress]) == 0
    assert torch.get_num_threads() == 1
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epochs] == ["1/2", "2/2"]
    assert all("train acc" in ln and " %" in ln and "validation top-1 (%)" in ln for ln in epochs)
    assert any(ln.startswith("| config |") and "(%)" in ln for ln in lines)   # final table
    assert "lenet on synthetic (input 3x8x8, float32); top-1 on the test split" in lines
    assert "it/s" not in cap.out + cap.err                 # capsys is not a terminal: no bars


def test_threads_option_is_checked(tmp_path, capsys, keep_threads):
    out = str(tmp_path / "run")
    assert main(["train", *FAST, "--epochs", "1", "--threads", "0", "--out", out]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err
    assert main(["train", *FAST, "--max-steps", "1", "--epochs", "1", "--out", out]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", out, "--widths", "1", "--calib-batches", "1",
                 "--threads", "1", "--no-store", "--split", "validation",
                 "--out", str(tmp_path / "e")]) == 0
    assert torch.get_num_threads() == 1
    assert "on the validation split" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", out, "--widths", "1", "--threads", "0"]) == 2
