"""SGD with Nesterov momentum, no weight decay on BN/bias, and a per-step cosine schedule with
linear warm-up. The schedule is a pure function of the step, so resuming needs only the step."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay only conv/linear weights (tensors with >= 2 dims) except depthwise convs (as
    US-Nets and the authors' code); BN affine and biases get none."""
    depthwise = {id(m.weight) for m in model.modules() if getattr(m, "depthwise", False)
                 and isinstance(getattr(m, "weight", None), nn.Parameter)}
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 and id(p) not in depthwise else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                           momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)


def lr_at(step: int, total_steps: int, base_lr: float, warmup_steps: int) -> float:
    """Linear warm-up from ``base_lr / warmup_steps`` to ``base_lr``, then cosine to 0."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr
