import json
import os
import shutil

import pytest
import torch

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.train import load_checkpoint, read_meta, save_checkpoint, store_bn_bank
from dynpim.train.checkpoint import rng_state, set_rng_state


def _model(**kw):
    torch.manual_seed(0)
    return create_model("lenet", num_classes=4, in_channels=3, image_size=8, **kw)


def _saved(tmp_path):
    m = _model()
    cfg = SubnetConfig.uniform(m, 0.5)
    calibrate_bn(m, cfg, [torch.randn(8, 3, 8, 8)])
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(torch.randn(4, 3, 8, 8)).sum().backward()
    opt.step()
    path = save_checkpoint(str(tmp_path / "ck"), m, optimizer=opt, configs=[cfg],
                           extra={"epoch": 3, "step": 42})
    return m, opt, cfg, path


def test_roundtrip_weights_bank_optimizer(tmp_path):
    m, opt, cfg, path = _saved(tmp_path)
    assert sorted(os.listdir(path)) == ["bn_bank.safetensors", "meta.json",
                                        "model.safetensors", "optim.safetensors"]
    m2 = _model()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    ck = load_checkpoint(path, m2, optimizer=opt2)
    assert ck.step == 42 and ck.epoch == 3 and ck.configs == [cfg]
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(),
                                                 m2.state_dict().values()))
    assert m2.banked_configs() == [cfg]
    assert opt2.param_groups[0]["lr"] == 0.1
    for p, q in zip(m.parameters(), m2.parameters()):
        assert torch.equal(opt.state[p]["momentum_buffer"], opt2.state[q]["momentum_buffer"])
    # rebuilt from meta (name/args) when no model is given
    assert load_checkpoint(path).model.args == m.args


def test_store_bn_bank_adds_configs_and_keeps_the_rest(tmp_path):
    m, opt, cfg, path = _saved(tmp_path)
    before = read_meta(path)
    ck = load_checkpoint(path)
    new = SubnetConfig.uniform(ck.model, 1.0)
    calibrate_bn(ck.model, new, [torch.randn(8, 3, 8, 8)])
    assert store_bn_bank(path, ck.model) == path
    after = read_meta(path)
    assert {k: v for k, v in after.items() if k != "files"} == \
        {k: v for k, v in before.items() if k != "files"}
    for name in ("model.safetensors", "optim.safetensors"):
        assert after["files"][name] == before["files"][name]
    assert after["files"]["bn_bank.safetensors"] != before["files"]["bn_bank.safetensors"]
    m2 = load_checkpoint(path, _model(), optimizer=torch.optim.SGD(
        _model().parameters(), lr=0.1, momentum=0.9)).model
    assert sorted(m2.banked_configs(), key=m2.macs) == [cfg, new]
    assert not os.path.exists(path + ".old")
    with torch.no_grad():  # other weights: refused, checkpoint untouched
        next(ck.model.parameters()).add_(1.0)
    with pytest.raises(ValueError, match="weights differ"):
        store_bn_bank(path, ck.model)
    assert read_meta(path) == after and sorted(os.listdir(tmp_path)) == ["ck"]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    *_, path = _saved(tmp_path)
    import pickle

    def boom(*a, **k):
        raise AssertionError("unpickling attempted")
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(torch, "load", boom)
    load_checkpoint(path, _model())


def test_truncated_and_corrupt_files(tmp_path):
    *_, path = _saved(tmp_path)
    fp = os.path.join(path, "model.safetensors")
    data = open(fp, "rb").read()
    open(fp, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.safetensors is corrupt or truncated"):
        load_checkpoint(path, _model())
    open(fp, "wb").write(data)
    mp = os.path.join(path, "meta.json")
    meta = open(mp).read()
    open(mp, "w").write(meta[:100])
    with pytest.raises(ValueError, match="meta.json is corrupt"):
        load_checkpoint(path, _model())
    open(mp, "w").write(meta)
    os.remove(os.path.join(path, "optim.safetensors"))
    with pytest.raises(ValueError, match="optim.safetensors is missing"):
        load_checkpoint(path, _model(), optimizer=torch.optim.SGD(_model().parameters(), lr=1))


def test_mismatched_model(tmp_path):
    *_, path = _saved(tmp_path)
    with pytest.raises(ValueError, match="slots"):
        load_checkpoint(path, _model(width_mult=0.5))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(str(tmp_path))
    meta = json.load(open(os.path.join(path, "meta.json")))
    meta["version"] = 99
    json.dump(meta, open(os.path.join(path, "meta.json"), "w"))
    with pytest.raises(ValueError, match="version 99"):
        read_meta(path)


def test_failed_save_keeps_last_good(tmp_path, monkeypatch):
    m, opt, cfg, path = _saved(tmp_path)
    before = open(os.path.join(path, "model.safetensors"), "rb").read()
    import dynpim.train.checkpoint as ckmod

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(ckmod, "save_file", fail)
    with torch.no_grad():
        next(m.parameters()).add_(1)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, m, optimizer=opt)
    assert open(os.path.join(path, "model.safetensors"), "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["ck"]  # no temp folder left behind
    # a crash between the two renames leaves <dir>.old, which loading falls back to
    shutil.move(path, path + ".old")
    assert load_checkpoint(path, _model()).step == 42


def test_rng_state_roundtrip_is_json():
    s = json.loads(json.dumps(rng_state()))
    a = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    set_rng_state(s)
    b = (torch.rand(3), __import__("numpy").random.rand(), __import__("random").random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]
