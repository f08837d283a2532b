"""Checkpoints with the BN bank as module state: same files, old checkpoints load, CUDA."""

import pytest
import torch
from safetensors.torch import load_file

from dynpim.models import create_model
from dynpim.nn import calibrate_bn
from dynpim.train.checkpoint import load_checkpoint, save_checkpoint


def banked():
    torch.manual_seed(0)
    m = create_model("lenet", image_size=8, width_mult=0.25)
    cfgs = [m.min_config(), m.max_config()]
    for cfg in cfgs:
        calibrate_bn(m, cfg, [torch.randn(8, 1, 8, 8)])
    return m.eval(), cfgs


def test_checkpoint_files_unchanged_and_old_checkpoints_load(tmp_path):
    """model.safetensors holds the weights only, as before the bank became module state, so
    checkpoints written before load as they did."""
    m, _ = banked()
    p = save_checkpoint(str(tmp_path / "ck"), m)
    weights = load_file(f"{p}/model.safetensors")
    assert not any(".bank_" in k for k in weights)  # the bank keeps its own file
    ck = load_checkpoint(p)
    assert ck.model.banked_configs() == m.banked_configs()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_move_keeps_bank(tmp_path):
    m, cfgs = banked()
    p = save_checkpoint(str(tmp_path / "ck"), m)
    g = load_checkpoint(p).model.cuda().eval()
    assert all(v.is_cuda for v in g.bn_bank_state().values())
    x = torch.randn(2, 1, 8, 8)
    for cfg in cfgs:
        with torch.no_grad(), g.subnet(cfg), m.subnet(cfg):
            torch.testing.assert_close(g(x.cuda()).cpu(), m(x), rtol=1e-4, atol=1e-4)


def test_checkpoint_written_before_issue_18_loads_and_takes_a_bank(tmp_path):
    """The old format: tensor files without header metadata, meta.json without preprocessing
    or provenance. It loads, and store_bn_bank adds to it."""
    import hashlib
    import json
    import os

    from safetensors.torch import save_file

    from dynpim.nn import SubnetConfig
    from dynpim.train.checkpoint import store_bn_bank

    m, cfgs = banked()
    p = save_checkpoint(str(tmp_path / "ck"), m)
    meta = json.load(open(os.path.join(p, "meta.json")))
    for key in ("preprocessing", "provenance"):
        meta.pop(key)
    for name in ("model.safetensors", "bn_bank.safetensors", "optim.safetensors"):
        fp = os.path.join(p, name)
        save_file(load_file(fp), fp)  # no header metadata, as before
        meta["files"][name] = hashlib.sha256(open(fp, "rb").read()).hexdigest()
    json.dump(meta, open(os.path.join(p, "meta.json"), "w"))
    ck = load_checkpoint(p)
    assert ck.model.banked_configs() == m.banked_configs()
    assert ck.model.preprocessing is None
    extra = SubnetConfig.uniform(ck.model, 0.5)
    calibrate_bn(ck.model, extra, [torch.randn(8, 1, 8, 8)])
    store_bn_bank(p, ck.model)
    assert extra in load_checkpoint(p).model.banked_configs()
