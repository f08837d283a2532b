"""Runs are self-describing: safetensors headers, env.json, metrics.csv."""

import csv
import json
import os
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

from dynpim.train import train
from dynpim.train.checkpoint import load_checkpoint, store_bn_bank


def test_run_artefacts_describe_themselves(tiny_cfg, synth):
    cfg = tiny_cfg(epochs=1)
    res = train(cfg, splits=synth)
    ck = os.path.join(cfg.out, "checkpoint")
    for name in ("model.safetensors", "bn_bank.safetensors", "optim.safetensors"):
        with safe_open(os.path.join(ck, name), framework="pt") as f:  # safetensors alone
            meta = f.metadata()
        assert meta["model_name"] == "lenet"
        assert json.loads(meta["model_args"]) == res.model.args
        pre = json.loads(meta["preprocessing"])
        assert pre["mean"] == list(synth.mean) and pre["std"] == list(synth.std)
        assert meta["torch_version"] == torch.__version__
        assert json.loads(meta["configs"]) == [list(c.widths) for c in
                                               load_checkpoint(ck).configs]
    env = json.load(open(os.path.join(cfg.out, "env.json")))
    assert env["seed"] == cfg.seed and env["versions"]["torch"] == torch.__version__
    assert env["command"] and env["machine"]["cpu_count"] == os.cpu_count()
    rows = list(csv.DictReader(open(os.path.join(cfg.out, "metrics.csv"))))
    assert [int(r["epoch"]) for r in rows] == [1]
    assert float(rows[0]["train_loss"]) == res.history[0]["train_loss"]
    assert any(k.startswith("val_top1[") for k in rows[0])


def test_store_bn_bank_keeps_header_and_checks_weights(tiny_cfg, synth):
    cfg = tiny_cfg(epochs=1)
    train(cfg, splits=synth)
    ck = load_checkpoint(cfg.out)
    ck.model.clear_bn_bank()
    store_bn_bank(cfg.out, ck.model)
    assert load_checkpoint(cfg.out).model.banked_configs() == []
    with safe_open(os.path.join(ck.path, "bn_bank.safetensors"), framework="pt") as f:
        assert f.metadata()["model_name"] == "lenet"
    with torch.no_grad():
        next(ck.model.parameters()).add_(1.0)
    with pytest.raises(ValueError, match="weights differ"):
        store_bn_bank(cfg.out, ck.model)


def test_env_json_keeps_every_session_of_a_resumed_run(tiny_cfg, synth):
    """A run resumed in a later session (possibly at another commit) lists both sessions; a
    fresh run into the same folder starts the list anew."""
    cfg = tiny_cfg(epochs=2)
    path = os.path.join(cfg.out, "env.json")
    train(replace(cfg, max_steps=2), splits=synth)
    first = json.load(open(path))
    assert [s["start_step"] for s in first["sessions"]] == [0]
    assert first["sessions"][0]["commit"] == first["commit"]
    # as an env.json written before sessions were kept, at another commit
    legacy = {k: v for k, v in first.items() if k != "sessions"}
    json.dump({**legacy, "commit": "0" * 40}, open(path, "w"))
    train(cfg, splits=synth, resume=True)
    env = json.load(open(path))
    assert [s["commit"] for s in env["sessions"]] == ["0" * 40, first["commit"]]
    assert [s["start_step"] for s in env["sessions"]] == [None, 2]
    train(cfg, splits=synth)
    assert [s["start_step"] for s in json.load(open(path))["sessions"]] == [0]
