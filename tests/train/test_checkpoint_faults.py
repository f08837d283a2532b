"""The checkpoint save protocol under fault injection (issue 20, item 2): a simulated crash
(a ``BaseException``, so no cleanup runs, as with ``kill -9``) right after every step of a save,
twice in a row across a resume. A complete checkpoint always loads, leftovers are promoted or
cleaned, resuming a training stays bitwise exact and ``metrics.jsonl`` keeps one line per epoch."""

from __future__ import annotations

import json
import os

import pytest
import torch

import dynpim.train.checkpoint as ckmod
from dynpim.models import create_model
from dynpim.train import load_checkpoint, save_checkpoint, train

# the steps of a save in a directory holding a checkpoint and a stale leftover
SAVE_STEPS = ("discarding", "recovered", "tmp_created", "tensors_written", "meta_written",
              "moved_aside", "renamed", "discarding", "done")


class Crash(BaseException):
    """A simulated kill: not an Exception, so no ``except Exception`` cleanup runs."""


class Injector:
    """Replaces ``checkpoint._step``: records the steps and crashes right after step number
    ``at`` (or the first step called ``name``) of the ``save``-th save it sees."""

    def __init__(self, at: int | None = None, name: str | None = None, save: int = 1) -> None:
        self.at, self.name, self.save = at, name, save
        self.calls: list[str] = []
        self.saves = 0
        self.crashed: str | None = None

    def __call__(self, name: str) -> None:
        if not self.calls or self.calls[-1] == "done":
            self.saves += 1
            self.index = -1
        self.calls.append(name)
        self.index += 1
        if self.crashed or self.saves != self.save:
            return
        if (self.at is not None and self.index == self.at) or name == self.name:
            self.crashed = name
            raise Crash(name)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(0)
    m = create_model("lenet", num_classes=4, in_channels=3, image_size=8)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(seed)
    return m


def _state(m: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in m.state_dict().items()}


def _save(path: str, step: int, monkeypatch, inj: Injector | None) -> bool:
    """Save the model of ``step``; True when it crashed."""
    monkeypatch.setattr(ckmod, "_step", inj or (lambda name: None))
    try:
        save_checkpoint(path, _model(step), extra={"step": step, "epoch": step})
    except Crash:
        return True
    finally:
        monkeypatch.setattr(ckmod, "_step", lambda name: None)
    return False


def _loads_complete(path: str, allowed: tuple[int, ...]) -> int:
    ck = load_checkpoint(path, _model(0))
    assert ck.step in allowed
    want = _state(_model(ck.step))
    got = ck.model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    return ck.step


def test_a_clean_save_goes_through_every_step(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "ck")
    _save(path, 1, monkeypatch, None)
    os.makedirs(path + ".tmp-stale")  # an incomplete leftover of an older crash
    inj = Injector()
    assert not _save(path, 2, monkeypatch, inj)
    assert tuple(inj.calls) == SAVE_STEPS
    assert sorted(os.listdir(tmp_path)) == ["ck"]


@pytest.mark.parametrize("first", range(len(SAVE_STEPS)))
def test_crash_at_every_step_twice_across_a_resume(tmp_path, monkeypatch, first) -> None:
    """Crash after step ``first`` of a save, load (resume), crash after every step ``second``
    of the next save, load again: a complete checkpoint of a saved state always loads."""
    for second in range(len(SAVE_STEPS)):
        path = str(tmp_path / f"ck{second}")
        _save(path, 1, monkeypatch, None)
        os.makedirs(path + ".tmp-stale")
        inj = Injector(at=first)
        assert _save(path, 2, monkeypatch, inj) and inj.crashed == SAVE_STEPS[first]
        got = _loads_complete(path, (1, 2))
        # resume from what loaded; the next save (again with a stale leftover) crashes too
        os.makedirs(path + ".tmp-stale2")
        inj2 = Injector(at=second)
        crashed = _save(path, got + 1, monkeypatch, inj2)
        assert crashed, f"save after resume never reached step {second}: {inj2.calls}"
        got2 = _loads_complete(path, (got, got + 1))
        # the next complete save settles everything: one folder, the newest state
        assert not _save(path, got2 + 1, monkeypatch, None)
        assert _loads_complete(path, (got2 + 1,)) == got2 + 1
        assert sorted(n for n in os.listdir(tmp_path) if n.startswith(f"ck{second}")) \
            == [f"ck{second}"]


def test_issue_20_two_crashes_left_no_checkpoint(tmp_path, monkeypatch) -> None:
    """Issue 20: a crash between the two renames, a resume from ``.old``, then a crash just
    after the next save deleted that ``.old`` left no loadable checkpoint."""
    path = str(tmp_path / "ck")
    _save(path, 1, monkeypatch, None)
    assert _save(path, 2, monkeypatch, Injector(name="moved_aside"))
    assert os.path.isdir(path + ".old") and not os.path.isdir(path)
    got = _loads_complete(path, (1, 2))
    assert _save(path, got + 1, monkeypatch, Injector(name="discarding"))
    _loads_complete(path, (got, got + 1))


# -- training -----------------------------------------------------------------------------------
def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def reference(synth, tmp_path_factory):
    from dynpim.train import TrainConfig

    def cfg(out: str) -> TrainConfig:
        return TrainConfig(model="lenet", dataset="synthetic", epochs=2, batch_size=64, lr=0.05,
                           calib_batches=1, progress=False, out=out, num_random=1,
                           checkpoint_every=3, eval_widths=(0.5, 1.0))
    ref = train(cfg(str(tmp_path_factory.mktemp("ref") / "run")), splits=synth)
    return cfg, _weights(ref.model), ref.history


TRAIN_STEPS = ("recovered", "tmp_created", "tensors_written", "meta_written", "moved_aside",
               "renamed", "discarding", "done")


@pytest.mark.parametrize("name", TRAIN_STEPS)
def test_training_survives_two_crashes_at_every_step(reference, synth, tmp_path, monkeypatch,
                                                     name) -> None:
    cfg_of, ref_weights, ref_history = reference
    cfg = cfg_of(str(tmp_path / "run"))
    # crash in the 3rd save (end of epoch 1), resume, crash in the 2nd save after the resume
    for save, resume in ((3, False), (2, True)):
        inj = Injector(name=name, save=save)
        monkeypatch.setattr(ckmod, "_step", inj)
        with pytest.raises(Crash):
            train(cfg, splits=synth, resume=resume)
        assert inj.crashed == name
        load_checkpoint(cfg.out)  # a complete checkpoint is always there
    monkeypatch.setattr(ckmod, "_step", lambda n: None)
    res = train(cfg, splits=synth, resume=True)
    assert all(torch.equal(ref_weights[k], v) for k, v in _weights(res.model).items())
    lines = [json.loads(x) for x in open(os.path.join(cfg.out, "metrics.jsonl"))]
    assert [r.get("epoch") for r in lines[:-1]] == [1, 2] and lines[-1]["final"] is True
    assert [r["step"] for r in lines[:-1]] == [r["step"] for r in ref_history] == [7, 14]
    assert sorted(n for n in os.listdir(cfg.out) if n.startswith("checkpoint")) == ["checkpoint"]


def test_crash_while_validating_an_epoch_keeps_its_line(reference, synth, tmp_path,
                                                        monkeypatch) -> None:
    """A kill -9 run (90 kills, checkpoint every step) lost epoch 1's metrics line: a step
    checkpoint at the end of the epoch lacked the epoch's record, and a crash during the
    validation that follows left only that checkpoint."""
    from dynpim.train import Trainer

    cfg_of, ref_weights, _ = reference
    cfg = cfg_of(str(tmp_path / "run")).replace(checkpoint_every=1)
    real = Trainer.validate
    calls = []

    def crash_once(self):
        calls.append(self.step)
        if len(calls) == 1:
            raise Crash("validate")
        return real(self)

    monkeypatch.setattr(Trainer, "validate", crash_once)
    with pytest.raises(Crash):
        train(cfg, splits=synth)
    assert load_checkpoint(cfg.out).step == 6  # the last step checkpoint before the epoch end
    res = train(cfg, splits=synth, resume=True)
    assert all(torch.equal(ref_weights[k], v) for k, v in _weights(res.model).items())
    lines = [json.loads(x) for x in open(os.path.join(cfg.out, "metrics.jsonl"))]
    assert [r.get("epoch") for r in lines[:-1]] == [1, 2] and lines[-1]["final"] is True
