"""Channel ranking for the search: L1 / BN-|gamma| (from ``dynpim.nn``) and trainable-noise
ranking (TNNLS'22, after Parametric Noise Injection, He et al. CVPR 2019), applied by physically
reordering channels so that every prefix of a slot holds its most important channels.

Noise ranking: every conv/linear layer that produces a slot's channels gets a learned scale
``alpha_c`` per output channel (init 0). In training mode the weight used is
``W_c + alpha_c * eta`` with ``eta ~ N(0, std(W))`` resampled at every forward pass and not
back-propagated through; in eval mode the weight is ``W`` unchanged. A channel whose ``|alpha|``
grows large tolerates noise, so it matters little and is removed first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from dynpim.nn import DynamicConv2d, DynamicLinear, DynamicNet, channel_importance, reorder_channels

RANKINGS = ("l1", "bn", "noise")


class ChannelNoise(nn.Module):
    """Weight parametrization ``W + alpha[:, None, ...] * eta`` (training mode only)."""

    def __init__(self, out_channels: int, ndim: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(out_channels))
        self._shape = (out_channels,) + (1,) * (ndim - 1)

    def forward(self, w: Tensor) -> Tensor:
        if not self.training:
            return w
        with torch.no_grad():
            # drawn in logical (NCHW) order: the same noise whatever w's memory layout
            eta = torch.randn(w.shape, dtype=w.dtype, device=w.device) * w.std()
        noisy = w + self.alpha.view(self._shape) * eta
        if noisy.stride() == w.stride():
            return noisy
        # keep w's strides: an NHWC weight with one input channel is also NCHW-contiguous, and
        # the sum comes back NCHW, which would switch the convolution (and the rest) to NCHW
        return torch.empty_like(w).copy_(noisy)


def _noise(m: nn.Module) -> ChannelNoise:
    """The :class:`ChannelNoise` parametrization attached to ``m.weight``."""
    plist = m.parametrizations
    assert isinstance(plist, nn.ModuleDict)  # torch types the attribute as Tensor | Module
    weights = plist["weight"]
    assert isinstance(weights, nn.ModuleList)
    noise = weights[0]
    assert isinstance(noise, ChannelNoise)
    return noise


class NoiseInjection:
    """Attach :class:`ChannelNoise` to every slot-producing conv/linear layer of ``model``.

    The alphas become model parameters (1-D, so optimizers that decay only >= 2-D tensors never
    decay them; :meth:`param_groups` states it explicitly). Call :meth:`remove` to restore the
    plain weights (values unchanged) before reordering or saving.
    """

    def __init__(self, model: DynamicNet) -> None:
        self.model = model
        self.layers: list[tuple[str, nn.Module]] = []
        for name, m in model.dynamic_layers():
            if isinstance(m, (DynamicConv2d, DynamicLinear)) and m.out_slot is not None:
                noise = ChannelNoise(m.weight.shape[0], m.weight.dim()).to(m.weight.device)
                parametrize.register_parametrization(m, "weight", noise)
                self.layers.append((name, m))
        if not self.layers:
            raise ValueError("noise ranking: the model has no slot-producing conv/linear layer")

    def alphas(self) -> dict[str, Tensor]:
        """Learned alpha per layer name (detached copies)."""
        return {n: _noise(m).alpha.detach().clone() for n, m in self.layers}

    def alpha_parameters(self) -> list[nn.Parameter]:
        return [_noise(m).alpha for _, m in self.layers]

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Optimizer groups: conv/linear weights decayed; alphas, BN and biases not."""
        alpha_ids = {id(p) for p in self.alpha_parameters()}
        decay, no_decay = [], []
        for p in self.model.parameters():
            if id(p) in alpha_ids or p.ndim < 2:
                no_decay.append(p)
            else:
                decay.append(p)
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    def scores(self) -> dict[str, Tensor]:
        """Importance per slot channel: minus the summed per-layer-normalised ``|alpha|``."""
        out = {s.name: torch.zeros(s.max_channels) for s in self.model.slots}
        for _, m in self.layers:
            a = _noise(m).alpha.detach().abs().float().cpu()
            out[str(m.out_slot)] -= a / a.sum().clamp_min(1e-12)
        return out

    def remove(self) -> None:
        """Drop the parametrizations, keeping the original (noise-free) weights."""
        for _, m in self.layers:
            if parametrize.is_parametrized(m, "weight"):
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)


def train_with_noise(
    model: DynamicNet,
    batches: Callable[[int], Iterable[tuple[Tensor, Tensor]]],
    *,
    epochs: int = 1,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    alpha_lr: float | None = None,
    cosine: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Tensor]:
    """Train the max-width model with trainable noise and return the noise scores per slot.

    ``batches(epoch)`` yields training ``(x, y)`` batches. The model's weights are updated (a
    short fine-tune of a trained model, or -- as the authors do -- the whole training of a
    freshly initialised one, then with ``cosine``: the learning rate follows a per-epoch cosine
    from ``lr`` to 0), the parametrizations are removed afterwards, and the BN bank is cleared
    because its statistics no longer match the weights. ``alpha_lr`` defaults to ``lr``.
    """
    if epochs < 1:
        raise ValueError(f"noise ranking: epochs must be >= 1, got {epochs}")
    inj = NoiseInjection(model)
    try:
        groups = inj.param_groups(weight_decay)
        alpha_ids = {id(p) for p in inj.alpha_parameters()}
        wdec = groups[0]["params"]
        rest = [p for p in groups[1]["params"] if id(p) not in alpha_ids]
        opt = torch.optim.SGD(
            [{"params": wdec, "weight_decay": weight_decay},
             {"params": rest, "weight_decay": 0.0},
             {"params": inj.alpha_parameters(), "weight_decay": 0.0,
              "lr": lr if alpha_lr is None else alpha_lr}],
            lr=lr, momentum=momentum)
        was_training = model.training
        model.train()
        base = [g["lr"] for g in opt.param_groups]
        with model.subnet(model.max_config()):
            for epoch in range(epochs):
                if cosine:
                    f = 0.5 * (1 + math.cos(math.pi * epoch / epochs))
                    for g, b in zip(opt.param_groups, base):
                        g["lr"] = b * f
                n = correct = 0
                for x, y in batches(epoch):
                    opt.zero_grad(set_to_none=True)
                    out = model(x)
                    F.cross_entropy(out, y).backward()
                    opt.step()
                    n += len(y)
                    correct += int((out.argmax(1) == y).sum())
                if log is not None:
                    log(f"noise training epoch {epoch + 1}/{epochs}: train top-1 "
                        f"{100 * correct / max(n, 1):.2f} %")
        model.train(was_training)
        scores = inj.scores()
    finally:
        inj.remove()
    model.clear_bn_bank()
    return scores


def rank_channels(model: DynamicNet, criterion: str = "l1", *,
                  noise_scores: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Importance score per slot channel (higher = keep). ``noise`` needs ``noise_scores`` from
    :func:`train_with_noise` (training data is needed to learn them)."""
    if criterion not in RANKINGS:
        raise ValueError(f"unknown ranking {criterion!r}; choose one of {RANKINGS}")
    if criterion == "noise":
        if noise_scores is None:
            raise ValueError("ranking 'noise' needs noise_scores from train_with_noise(...)")
        return noise_scores
    return channel_importance(model, criterion)


# the name docs/search.md uses: nn's reorder_channels (permute every slot by descending score,
# max-width function unchanged, BN bank cleared; returns the permutation per slot)
apply_ranking = reorder_channels
