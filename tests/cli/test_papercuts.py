"""CLI papercuts of issue 18: eval without widths, models without forced sizes."""

import json

from dynpim.cli import main
from dynpim.train import load_checkpoint


def test_eval_without_widths_evaluates_the_trained_configs(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "64",
                 "--calib-batches", "2", "--num-random", "1", "--eval-widths", "0.5,1",
                 "--no-progress", "--out", run]) == 0
    assert main(["eval", "--checkpoint", run, "--calib-batches", "2",
                 "--out", str(tmp_path / "tab")]) == 0
    rows = json.load(open(tmp_path / "tab.json"))["rows"]
    trained = load_checkpoint(run).configs
    assert [r["widths"] for r in rows] == [list(c.widths) for c in trained]
    assert len(rows) == 2


def test_models_keep_their_own_input_and_classes(capsys):
    assert main(["models"]) == 0
    lines = {ln.split()[0]: ln.split() for ln in capsys.readouterr().out.splitlines()[1:]}
    assert lines["lenet"][1] == "1x28x28"  # not forced to 3 channels
    assert lines["mobilenet_v1_imagenet"][1:3] == ["3x224x224", "1000"]
    assert main(["models", "lenet", "--num-classes", "4", "--in-channels", "3"]) == 0
    assert "input (3, 28, 28)" in capsys.readouterr().out


def test_pim_presets_and_estimate_are_sub_commands(capsys, tmp_path):
    assert main(["pim", "presets"]) == 0
    assert "sot-mram" in capsys.readouterr().out
    outs = []
    for argv in (["pim", "--model", "lenet", "--width", "0.5"],
                 ["pim", "estimate", "--model", "lenet", "--width", "0.5"],
                 ["pim", "--model", "lenet", "estimate", "--width", "0.5"]):
        assert main(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2]
    assert "input 1x28x28" in outs[0]  # the model's own input, not forced to 3 channels
    (tmp_path / "c.json").write_text('{"widths": [16, 32, 64]}')
    assert main(["pim", "--model", "lenet", "--configs", str(tmp_path / "c.json")]) == 0
    assert "config 16-32-64" in capsys.readouterr().out
