"""Run by test_distributed.py as one rank of a 2-process data-parallel run (or as one process
with WORLD_SIZE=1): trains a tiny dynamic net for a few steps, saves its weights. ``variant``:
``plain`` (no BN), ``bn_sync`` (BN with SyncBatchNorm), ``bn_local`` (BN, per-rank statistics)."""

import json
import sys

import torch
from safetensors.torch import save_file
from torch import nn

from dynpim.data import load_dataset
from dynpim.nn import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear, DynamicNet, Slot
from dynpim.train import TrainConfig, calibration_batches, evaluate_configs, train


def tiny_model(bn: bool = False) -> DynamicNet:
    torch.manual_seed(0)
    norm = [DynamicBatchNorm2d(8, slot="a")] if bn else []
    body = nn.Sequential(DynamicConv2d(3, 8, 3, padding=1, out_slot="a"), *norm, nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), DynamicLinear(8, 4, in_slot="a"))
    return DynamicNet(body, [Slot("a", 8, 2, 2)], input_size=(3, 8, 8))


def after_last_step(trainer, rec) -> None:
    """At the last step, inside the process group: how the model is wrapped, and the test
    accuracy evaluated on this rank's shard and gathered over the ranks."""
    if rec["step"] != trainer.cfg.max_steps:
        return
    calib = calibration_batches(trainer.splits, batch_size=64, num_batches=2)
    rows = evaluate_configs(trainer.model, trainer.eval_configs(), trainer.splits, calib,
                            split="test", shard=trainer.shard)
    x, _ = trainer.splits.split("test")
    with open(trainer.cfg.out + ".probe.json", "w") as f:
        json.dump({"wrapper": type(trainer.net).__name__, "rows": rows,
                   "shard_size": len(x[trainer.shard[0]::trainer.shard[1]])}, f)


def run(out_dir: str, weights_path: str, variant: str = "plain") -> None:
    cfg = TrainConfig(model="custom", dataset="synthetic", batch_size=64, epochs=2, lr=0.1,
                      max_steps=4, num_random=2, progress=False, out=out_dir,
                      sync_bn=variant == "bn_sync")
    res = train(cfg, model=tiny_model(bn=variant != "plain"), splits=load_dataset("synthetic"),
                hooks=[after_last_step])
    save_file({k: v.contiguous() for k, v in res.model.state_dict().items()}, weights_path)


if __name__ == "__main__":
    run(*sys.argv[1:4])
