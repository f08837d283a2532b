"""Fine-tune snapshots of the search describe themselves (sidecar + safetensors header)."""

import json

import torch
from safetensors import safe_open

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.search.progressive import _load_snapshot, _save_snapshot
from dynpim.search.trajectory import SearchStep


def test_snapshot_has_sidecar_and_header_and_keeps_the_bank(tmp_path):
    torch.manual_seed(0)
    m = create_model("lenet", image_size=8, width_mult=0.25)
    cfg = SubnetConfig.uniform(m, 0.5)
    calibrate_bn(m, cfg, [torch.randn(8, 1, 8, 8)])
    traj = str(tmp_path / "trajectory.jsonl")
    _save_snapshot(m, traj, 3, cfg)
    path = f"{traj}.finetune-0003.safetensors"
    side = json.load(open(path + ".json"))
    assert side["step"] == 3 and side["model"]["name"] == "lenet"
    assert side["configs"] == [list(cfg.widths)]
    with safe_open(path, framework="pt") as f:
        assert f.metadata()["model_name"] == "lenet"
        assert not any(".bank_" in k for k in f.keys())  # weights only, as before
    other = create_model("lenet", image_size=8, width_mult=0.25)
    calibrate_bn(other, cfg, [torch.randn(8, 1, 8, 8)])
    bank = {k: v.clone() for k, v in other.bn_bank_state().items()}
    _load_snapshot(other, traj, [SearchStep(step=3, config=cfg.widths, key=cfg.key, accuracy=0.5,
                                            macs=1, finetuned=True)])
    assert all(torch.equal(bank[k], v) for k, v in other.bn_bank_state().items())
    assert all(torch.equal(a, b) for a, b in zip(m.weights_state_dict().values(),
                                                 other.weights_state_dict().values()))
