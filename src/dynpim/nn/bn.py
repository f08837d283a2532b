"""Post-training BN calibration per sub-net config (US-Nets style), filling the BN bank."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .dynamic_net import DynamicNet
from .layers import DynamicBatchNorm2d
from .slots import SubnetConfig


def calibrate_bn(
    model: DynamicNet,
    cfg: SubnetConfig | Sequence[int],
    batches: Iterable[Tensor | tuple[Tensor, ...]],
    *,
    max_batches: int | None = None,
) -> SubnetConfig:
    """Forward ``batches`` at ``cfg`` in train mode and bank the averaged BN statistics.

    Replaces any statistics banked for ``cfg`` before. Batches may be tensors or ``(x, y)``
    tuples. Returns the validated config.
    """
    cfg = model.validate(cfg)
    bns = [m for _, m in model.dynamic_layers() if isinstance(m, DynamicBatchNorm2d)]
    was_training = model.training
    n = 0
    with model.subnet(cfg), torch.no_grad():
        for m in bns:
            m._acc = []
        model.train()
        model._state.calibrating = True
        try:
            for batch in batches:
                if max_batches is not None and n >= max_batches:
                    break
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(x)
                n += 1
            if n == 0:
                raise ValueError("calibrate_bn needs at least one batch")
            for m in bns:
                m.finish_calibration()
        finally:
            model._state.calibrating = False
            model.train(was_training)
    return cfg


def set_sync_batchnorm(model: DynamicNet, enabled: bool = True) -> int:
    """Make every dynamic BN of ``model`` normalise with global-batch statistics while a
    ``torch.distributed`` process group is up (SyncBatchNorm); returns how many BN layers."""
    bns = [m for _, m in model.dynamic_layers() if isinstance(m, DynamicBatchNorm2d)]
    for m in bns:
        m.sync = enabled
    return len(bns)
