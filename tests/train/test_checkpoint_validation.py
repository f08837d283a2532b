"""Loading validates what the hashes cannot: dtypes, finiteness and the sidecar's required
keys, each with a one-line error (issue 20, item 2)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from dynpim.errors import CheckpointError
from dynpim.models import create_model
from dynpim.train import load_checkpoint, save_checkpoint


def _model():
    torch.manual_seed(0)
    return create_model("lenet", num_classes=4, in_channels=3, image_size=8)


@pytest.fixture
def ck(tmp_path) -> str:
    return save_checkpoint(str(tmp_path / "ck"), _model(), extra={"epoch": 1, "step": 3})


def _rewrite_weights(path: str, change) -> None:
    """Alter model.safetensors and update its hash in meta.json (a forged checkpoint)."""
    fp = os.path.join(path, "model.safetensors")
    w = load_file(fp)
    change(w)
    save_file(w, fp)
    meta = json.load(open(os.path.join(path, "meta.json")))
    meta["files"]["model.safetensors"] = hashlib.sha256(open(fp, "rb").read()).hexdigest()
    json.dump(meta, open(os.path.join(path, "meta.json"), "w"))


def _edit_meta(path: str, change) -> None:
    meta = json.load(open(os.path.join(path, "meta.json")))
    change(meta)
    json.dump(meta, open(os.path.join(path, "meta.json"), "w"))


def _first_float(w: dict) -> str:
    return next(k for k, v in w.items() if v.is_floating_point())


CASES = [
    ("int64 weights", lambda p: _rewrite_weights(p, lambda w: w.update(
        {_first_float(w): w[_first_float(w)].long()})), "has dtype torch.int64, the model expects "
     "torch.float32"),
    ("NaN weights", lambda p: _rewrite_weights(p, lambda w: w[_first_float(w)].fill_(
        float("nan"))), "holds NaN or infinite values"),
    ("inf weights", lambda p: _rewrite_weights(p, lambda w: w[_first_float(w)].fill_(
        float("inf"))), "holds NaN or infinite values"),
    ("meta without model", lambda p: _edit_meta(p, lambda m: m.pop("model")),
     "meta.json lacks the required field 'model'"),
    ("meta without files", lambda p: _edit_meta(p, lambda m: m.pop("files")),
     "meta.json lacks the required field 'files'"),
    ("meta without a file hash", lambda p: _edit_meta(p, lambda m: m["files"].pop(
        "bn_bank.safetensors")), "files.'bn_bank.safetensors' (its SHA-256) is missing"),
    ("model.args not a dict", lambda p: _edit_meta(p, lambda m: m["model"].update(args=[1])),
     "field model.'args' must be a dict, got list"),
    ("negative step", lambda p: _edit_meta(p, lambda m: m.update(step=-1)),
     "field 'step' must be an integer >= 0, got -1"),
    ("unknown model name", lambda p: _edit_meta(p, lambda m: m["model"].update(name="nope")),
     "unknown model 'nope'"),
]


@pytest.mark.parametrize("what,change,message", CASES, ids=[c[0] for c in CASES])
def test_forged_checkpoint_is_refused_in_one_line(ck, what, change, message) -> None:
    change(ck)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ck)
    assert message in str(e.value) and "\n" not in str(e.value)
