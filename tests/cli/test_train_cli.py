import json
import os

import pytest
import yaml

from dynpim.cli import main

FAST = ["--dataset", "synthetic", "--model", "lenet", "--batch-size", "64", "--calib-batches",
        "2", "--num-random", "1", "--no-progress"]


def test_train_then_eval(tmp_path, capsys):
    out = str(tmp_path / "run")
    (tmp_path / "run.yaml").write_text("epochs: 5\nlr: 1e-2\nlabel-smoothing: 0.1\n")
    rc = main(["train", "--config", str(tmp_path / "run.yaml"), "--epochs", "1", "--out", out,
               *FAST])
    assert rc == 0
    saved = yaml.safe_load(open(os.path.join(out, "config.yaml")))
    assert saved["epochs"] == 1 and saved["lr"] == 0.01 and saved["label_smoothing"] == 0.1
    assert saved["dataset"] == "synthetic"
    capsys.readouterr()
    assert main(["eval", "--checkpoint", out, "--widths", "0.5,1.0", "--calib-batches", "2",
                 "--out", str(tmp_path / "tab")]) == 0
    text = capsys.readouterr().out
    assert "| 16-32-64 |" in text and "| 32-64-128 |" in text
    data = json.load(open(tmp_path / "tab.json"))
    rows = data["rows"]
    assert [r["config"] for r in rows] == ["16-32-64", "32-64-128"]
    assert data["accuracy_split"] == "test" and all(r["accuracy_split"] == "test" for r in rows)
    assert open(tmp_path / "tab.csv").readline().startswith("config,widths,ratio,macs,params")
    assert main(["eval", "--checkpoint", out, "--all", "--use-bank"]) == 0
    rows = json.load(open(os.path.join(out, "checkpoint", "eval.json")))["rows"]
    assert len(rows) == 4
    cfgs = tmp_path / "c.json"
    cfgs.write_text(json.dumps([[8, 64, 32]]))
    from dynpim.train import load_checkpoint
    assert len(load_checkpoint(out).model.banked_configs()) == 4
    assert main(["eval", "--checkpoint", out, "--configs", str(cfgs), "--calib-batches", "1",
                 "--out", str(tmp_path / "t2"), "--no-store"]) == 0
    assert len(load_checkpoint(out).model.banked_configs()) == 4
    assert main(["eval", "--checkpoint", out, "--configs", str(cfgs), "--calib-batches", "1",
                 "--out", str(tmp_path / "t2")]) == 0
    assert "stored the BN statistics of 1 config(s)" in capsys.readouterr().out
    banked = load_checkpoint(out).model.banked_configs()
    assert len(banked) == 5 and [8, 64, 32] in [list(c.widths) for c in banked]
    assert main(["eval", "--checkpoint", out, "--configs", str(cfgs), "--use-bank",
                 "--out", str(tmp_path / "t3")]) == 0
    assert json.load(open(tmp_path / "t3.json"))["rows"][0]["config"] == "8-64-32"


def test_resume_via_cli(tmp_path):
    out = str(tmp_path / "run")
    args = ["train", "--epochs", "2", "--out", out, *FAST]
    assert main([*args, "--max-steps", "3"]) == 0
    assert main([*args, "--resume"]) == 0
    lines = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    assert lines[-1]["final"] and lines[-1]["step"] == 14


@pytest.mark.parametrize("argv,msg", [
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--model", "resnet99"], "unknown model 'resnet99'"),
    (["--dataset", "fashion-mnist", "--data-dir", "/nonexistent/x"], "does not exist"),
    (["--mode", "individual", "--width", "1.5"], r"width must be in \(0, 1\]"),
    (["--mode", "individual"], "needs width"),
])
def test_bad_input_exits_2_with_message(tmp_path, capsys, argv, msg):
    rc = main(["train", "--out", str(tmp_path / "r"), "--no-progress", *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("dynpim train: error:")
    import re
    assert re.search(msg, err)


def test_non_numeric_hyperparameters_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--lr", "fast"])
    assert e.value.code == 2 and "invalid float value: 'fast'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--checkpoint", "x", "--widths", "0.5,2"])
    assert "widths must be numbers in (0, 1]" in capsys.readouterr().err


def test_eval_errors(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path / "none"), "--all"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_layout_and_sync_bn_flags_reach_the_config():
    from dynpim.cli import build_parser
    from dynpim.cli.train import config_from_args

    on = config_from_args(build_parser().parse_args(["train", "--channels-last", "--sync-bn"]))
    off = config_from_args(build_parser().parse_args(["train"]))
    assert (on.channels_last, on.sync_bn) == (True, True)
    assert (off.channels_last, off.sync_bn) == (False, False)
