"""Channel importance per slot and physical channel reordering.

After ``reorder_channels`` the max-width function is unchanged and every prefix of a slot holds
its most important channels, so prefix slicing keeps the best ones.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .dynamic_net import DynamicNet
from .layers import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear

CRITERIA = ("l1", "bn")


def channel_importance(model: DynamicNet, criterion: str = "l1") -> dict[str, Tensor]:
    """Score per channel of every slot: ``l1`` sums the L1 norms of each channel's producing
    weights (normalised per layer), ``bn`` sums the |gamma| of the slot's BN layers."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown importance criterion {criterion!r}; choose from {CRITERIA}")
    scores = {s.name: torch.zeros(s.max_channels) for s in model.slots}
    with torch.no_grad():
        for _, m in model.dynamic_layers():
            if m.out_slot is None:
                continue
            if criterion == "l1" and isinstance(m, (DynamicConv2d, DynamicLinear)):
                w = m.weight.abs().flatten(1).sum(1)
                scores[m.out_slot] += w / w.sum().clamp_min(1e-12)
            elif criterion == "bn" and isinstance(m, DynamicBatchNorm2d):
                scores[m.out_slot] += m.weight.abs()
    return scores


def _permute(t: Tensor, perm: Tensor, dim: int) -> None:
    t.data.copy_(t.data.index_select(dim, perm))


def reorder_channels(model: DynamicNet, scores: dict[str, Tensor]) -> dict[str, Tensor]:
    """Permute every slot's channels by descending score, in producers, consumers and BN.

    Clears the BN bank (its statistics are in the old order). Returns the permutation used
    per slot.
    """
    perms: dict[str, Tensor] = {}
    for s in model.slots:
        if s.name not in scores:
            continue
        sc = torch.as_tensor(scores[s.name]).flatten()
        if sc.numel() != s.max_channels:
            raise ValueError(f"slot {s.name!r}: {sc.numel()} scores for {s.max_channels} channels")
        perms[s.name] = torch.argsort(sc, descending=True, stable=True)
    with torch.no_grad():
        for _, m in model.dynamic_layers():
            if m.out_slot in perms:
                p = perms[m.out_slot]
                _permute(m.weight, p, 0)
                if m.bias is not None:
                    _permute(m.bias, p, 0)
            depthwise = isinstance(m, DynamicConv2d) and m.depthwise
            if m.in_slot in perms and not depthwise and not isinstance(m, DynamicBatchNorm2d):
                _permute(m.weight, perms[m.in_slot], 1)
    model.clear_bn_bank()
    return perms
