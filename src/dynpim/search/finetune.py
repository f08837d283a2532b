"""Selective fine-tuning callback for the search: a short SGD run of one sub-net config on the
training split (TNNLS'22: only when accuracy falls below a threshold, lr 0.01, a few epochs at
most). Deterministic per search step, so a resumed search repeats it exactly."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from dynpim.data import Augment, iterate_batches
from dynpim.nn import DynamicNet, SubnetConfig


def make_finetuner(
    x: Tensor,
    y: Tensor,
    *,
    steps: int = 200,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 128,
    augment: Augment | None = None,
    seed: int = 0,
) -> Callable[[DynamicNet, SubnetConfig, int], None]:
    """``finetune(model, cfg, step)``: ``steps`` SGD steps of ``cfg`` with the hard-label loss.

    Weight decay applies to conv/linear weights only. Channels outside ``cfg`` get no gradient
    (prefix slicing), so larger configs keep their extra channels untouched.
    """
    if steps < 1 or lr <= 0 or batch_size < 1:
        raise ValueError(f"fine-tune needs steps >= 1, lr > 0, batch_size >= 1; got {steps}, "
                         f"{lr}, {batch_size}")

    def finetune(model: DynamicNet, cfg: SubnetConfig, step: int) -> None:
        decay = [p for p in model.parameters() if p.ndim >= 2]
        rest = [p for p in model.parameters() if p.ndim < 2]
        opt = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                               {"params": rest, "weight_decay": 0.0}], lr=lr, momentum=momentum)
        g = torch.Generator().manual_seed(int(seed) * 100_003 + int(step))
        was_training = model.training
        model.train()
        done = 0
        with model.subnet(cfg):
            while done < steps:
                for xb, yb in iterate_batches(x, y, batch_size, shuffle=True, generator=g,
                                              augment=augment,
                                              drop_last=len(y) >= batch_size):
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(model(xb), yb).backward()
                    opt.step()
                    done += 1
                    if done >= steps:
                        break
        model.train(was_training)

    return finetune
