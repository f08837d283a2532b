"""Losses of the sandwich rule: hard cross-entropy for the largest sub-net, soft cross-entropy
against its detached prediction (in-place distillation) for the others."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Mean over the batch of ``-sum(p * log_softmax(logits))``; ``target_probs`` is detached."""
    return -(target_probs.detach() * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def hard_cross_entropy(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
