"""Selective fine-tuning callback for the search (TNNLS'22: only when accuracy falls below a
threshold). Deterministic per search step, so a resumed search repeats it exactly.

Two optimisers (``optimizer``):

* ``sgd`` (the authors'): plain SGD, momentum 0, no weight decay;
* ``sgd-momentum`` (dynpim's earlier default): momentum 0.9, weight decay 5e-4 on conv/linear
  weights except depthwise convs.

With ``recover`` (the authors' schedule) training runs in chunks of ``check_every`` steps and
stops as soon as ``recover(model, cfg)`` is true (held-out accuracy back above the threshold),
capped at ``steps``; without it exactly ``steps`` steps run.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynpim.data import Augment, iterate_batches
from dynpim.nn import DynamicNet, SubnetConfig

OPTIMIZERS = {"sgd": (0.0, 0.0), "sgd-momentum": (0.9, 5e-4)}  # (momentum, weight decay)
Recover = Callable[[DynamicNet, SubnetConfig], bool]


def decay_split(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(decayed, not decayed)``: conv/linear weights are decayed, except depthwise convs
    (as US-Nets and the authors' code); BN parameters and biases never."""
    depthwise = set()
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels:
            depthwise.add(id(m.weight))
        elif getattr(m, "depthwise", False) and hasattr(m, "weight"):
            depthwise.add(id(m.weight))
    decay: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for p in model.parameters():
        (decay if p.ndim >= 2 and id(p) not in depthwise else rest).append(p)
    return decay, rest


def make_finetuner(
    x: Tensor,
    y: Tensor,
    *,
    steps: int = 200,
    lr: float = 0.01,
    optimizer: str = "sgd-momentum",
    batch_size: int = 128,
    augment: Augment | None = None,
    seed: int = 0,
    recover: Recover | None = None,
    check_every: int = 50,
    momentum: float | None = None,
    weight_decay: float | None = None,
    channels_last: bool = False,
    log: Callable[[str], None] | None = None,
) -> Callable[[DynamicNet, SubnetConfig, int], None]:
    """``finetune(model, cfg, step)``: SGD steps of ``cfg`` with the hard-label loss.

    Channels outside ``cfg`` get no gradient (prefix slicing), so larger configs keep their
    extra channels untouched. ``momentum`` / ``weight_decay`` override the optimiser's values.
    ``channels_last`` trains in NHWC memory format (faster CPU convolutions); the model is handed
    back in its usual layout. The number of steps run last is kept in ``finetune.last_steps``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"fine-tune optimizer must be one of {tuple(OPTIMIZERS)}, "
                         f"got {optimizer!r}")
    if steps < 1 or lr <= 0 or batch_size < 1 or check_every < 1:
        raise ValueError(f"fine-tune needs steps >= 1, lr > 0, batch_size >= 1, check_every "
                         f">= 1; got {steps}, {lr}, {batch_size}, {check_every}")
    mom, wd = OPTIMIZERS[optimizer]
    mom = mom if momentum is None else momentum
    wd = wd if weight_decay is None else weight_decay

    def finetune(model: DynamicNet, cfg: SubnetConfig, step: int) -> None:
        decay, rest = decay_split(model)
        opt = torch.optim.SGD([{"params": decay, "weight_decay": wd},
                               {"params": rest, "weight_decay": 0.0}], lr=lr, momentum=mom)
        g = torch.Generator().manual_seed(int(seed) * 100_003 + int(step))
        was_training = model.training
        done, recovered = 0, False
        while done < steps and not recovered:
            chunk = steps - done if recover is None else min(check_every, steps - done)
            model.train()
            if channels_last:  # per chunk: ``recover`` may hand the model back contiguous
                model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            n = 0
            with model.subnet(cfg):
                while n < chunk:
                    for xb, yb in iterate_batches(x, y, batch_size, shuffle=True, generator=g,
                                                  augment=augment,
                                                  drop_last=len(y) >= batch_size):
                        opt.zero_grad(set_to_none=True)
                        if channels_last:
                            xb = xb.contiguous(memory_format=torch.channels_last)
                        F.cross_entropy(model(xb), yb).backward()
                        opt.step()
                        n += 1
                        if n >= chunk:
                            break
            done += n
            if channels_last:
                model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
            if recover is not None:
                recovered = recover(model, cfg)
        model.train(was_training)
        finetune.last_steps = done  # type: ignore[attr-defined]
        if log is not None:
            state = "recovered" if recovered else ("cap reached" if recover else "fixed")
            log(f"  fine-tuned {done} step(s) ({state})")

    finetune.last_steps = 0  # type: ignore[attr-defined]
    return finetune
