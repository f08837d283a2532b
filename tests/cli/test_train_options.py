"""``dynpim train`` options are generated from ``TrainConfig``: one declaration per option,
every default shown in ``--help``; ``--amp`` trains in mixed precision."""

import argparse
import dataclasses
import math

import pytest

from dynpim.cli import train as train_cli
from dynpim.train import TrainConfig, train


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    train_cli.register(p.add_subparsers())
    return p


def test_every_field_is_an_option_with_its_default_in_help():
    p = parser()
    sub = p._subparsers._group_actions[0].choices["train"]
    text = " ".join(sub.format_help().split())
    for f in dataclasses.fields(TrainConfig):
        flag = f"--{f.name.replace('_', '-')}"
        if f.type == "bool" and f.default:
            flag = f"--no-{f.name.replace('_', '-')}"
        assert flag in text, flag
    for action in sub._actions:
        if action.dest in {f.name for f in dataclasses.fields(TrainConfig)}:
            assert "default:" in " ".join((action.help or "").split()), action.dest


def test_generated_options_reach_the_config():
    args = parser().parse_args(
        ["train", "--lr", "0.02", "--eval-widths", "0.5,1", "--no-nesterov", "--sync-bn",
         "--amp", "bf16", "--mode", "individual", "--width", "0.5", "--holdout", "7"])
    cfg = train_cli.config_from_args(args)
    assert (cfg.lr, cfg.eval_widths, cfg.nesterov, cfg.sync_bn, cfg.amp, cfg.holdout) == \
        (0.02, (0.5, 1.0), False, True, "bf16", 7)
    assert cfg.mode == "individual" and cfg.width == 0.5
    assert train_cli.config_from_args(parser().parse_args(["train"])) == TrainConfig()
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--amp", "fp8"])


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_trains(tmp_path, amp):
    cfg = TrainConfig(model="lenet", dataset="synthetic", epochs=1, batch_size=64, lr=0.05,
                      calib_batches=2, progress=False, num_random=1, out=str(tmp_path / "r"),
                      amp=amp)
    res = train(cfg)
    assert all(math.isfinite(r["train_loss"]) for r in res.history)
    assert res.final["test"]
