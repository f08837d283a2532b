"""TensorBoard logging: epoch scalars go to ``<out>/tensorboard`` when the optional package is
importable, and training runs unchanged (CSV + JSONL only) when it is not. A recording stand-in
replaces ``torch.utils.tensorboard`` so the test needs no tensorboard install."""

import os
import sys
import types

from dynpim.train import train


class RecordingWriter:
    instances: list["RecordingWriter"] = []

    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.flushes = log_dir, [], 0
        RecordingWriter.instances.append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, float(value), int(step)))

    def flush(self):
        self.flushes += 1


def test_epoch_scalars_reach_tensorboard(tiny_cfg, synth, monkeypatch):
    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = RecordingWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    RecordingWriter.instances.clear()
    cfg = tiny_cfg(epochs=2)
    res = train(cfg, splits=synth)
    (writer,) = RecordingWriter.instances
    assert writer.log_dir == os.path.join(cfg.out, "tensorboard")
    assert writer.flushes == 2  # once per epoch
    tags = {t for t, _, _ in writer.scalars}
    assert {"train/lr", "train/train_loss", "train/train_acc", "train/time_s"} <= tags
    assert any(t.startswith("val_top1/") for t in tags)
    # the logged values are the history's, at the history's steps
    for rec in res.history:
        assert ("train/train_loss", float(rec["train_loss"]), rec["step"]) in writer.scalars


def test_training_without_tensorboard_writes_csv_only(tiny_cfg, synth, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises
    cfg = tiny_cfg(epochs=1)
    train(cfg, splits=synth)
    assert os.path.isfile(os.path.join(cfg.out, "metrics.csv"))
    assert not os.path.exists(os.path.join(cfg.out, "tensorboard"))
