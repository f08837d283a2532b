"""Which sub-nets train on each batch: uniform width ratios, a list of configs (searched
non-uniform ones, or a few uniform widths as in Slimmable Networks), or one fixed config.
Every draw comes from a generator seeded by (seed, step), so all processes of a data-parallel
run, and a resumed run, pick the same sub-nets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from dynpim.nn import DynamicNet, SubnetConfig


def step_generator(seed: int, step: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, step)``."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) % (2**63 - 1))


@dataclass
class UniformSampler:
    """Same ratio in every slot, ratio ~ U[min_ratio, max_ratio], rounded to each slot's step."""

    model: DynamicNet
    min_ratio: float = 0.25
    max_ratio: float = 1.0

    def largest(self) -> SubnetConfig:
        return SubnetConfig.uniform(self.model, self.max_ratio)

    def smallest(self) -> SubnetConfig:
        return SubnetConfig.uniform(self.model, self.min_ratio)

    def sample(self, g: torch.Generator) -> SubnetConfig:
        u = float(torch.rand((), generator=g, dtype=torch.float64))
        ratio = self.min_ratio + u * (self.max_ratio - self.min_ratio)
        return SubnetConfig.uniform(self.model, ratio)

    def draw(self, g: torch.Generator, k: int) -> list[SubnetConfig]:
        """``k`` independent random configs for one sandwich step."""
        return [self.sample(g) for _ in range(k)]

    def eval_configs(self) -> list[SubnetConfig]:
        return [self.smallest(), self.largest()]


@dataclass
class ListSampler:
    """Configs from a list (e.g. the searched non-uniform sub-nets); largest/smallest by MACs."""

    model: DynamicNet
    configs: Sequence[SubnetConfig]

    def __post_init__(self) -> None:
        if not self.configs:
            raise ValueError("the config list is empty")
        self.configs = sorted({self.model.validate(c) for c in self.configs},
                              key=lambda c: (self.model.macs(c), c.widths))

    def largest(self) -> SubnetConfig:
        return self.configs[-1]

    def smallest(self) -> SubnetConfig:
        return self.configs[0]

    def sample(self, g: torch.Generator) -> SubnetConfig:
        return self.configs[int(torch.randint(len(self.configs), (1,), generator=g))]

    def draw(self, g: torch.Generator, k: int) -> list[SubnetConfig]:
        """``k`` configs for one sandwich step: distinct configs strictly between the smallest
        and the largest (which the sandwich trains anyway); once those are used up, draws from
        the whole list. With 4 widths and ``k = 2`` every width trains on every batch."""
        interior = self.configs[1:-1]
        order = torch.randperm(len(interior), generator=g).tolist()
        picked = [interior[i] for i in order[:k]]
        return picked + [self.sample(g) for _ in range(k - len(picked))]

    def eval_configs(self) -> list[SubnetConfig]:
        return list(self.configs)


@dataclass
class FixedSampler:
    """Always the same config (individual training of one sub-net, the baseline)."""

    model: DynamicNet
    config: SubnetConfig

    def __post_init__(self) -> None:
        self.config = self.model.validate(self.config)

    def largest(self) -> SubnetConfig:
        return self.config

    def smallest(self) -> SubnetConfig:
        return self.config

    def sample(self, g: torch.Generator) -> SubnetConfig:
        return self.config

    def draw(self, g: torch.Generator, k: int) -> list[SubnetConfig]:
        return [self.config] * k

    def eval_configs(self) -> list[SubnetConfig]:
        return [self.config]


Sampler = UniformSampler | ListSampler | FixedSampler


def sandwich(sampler: Sampler, num_random: int, g: torch.Generator) -> list[SubnetConfig]:
    """Configs of one sandwich step: largest first, then smallest, then ``num_random`` draws."""
    return [sampler.largest(), sampler.smallest()] + sampler.draw(g, num_random)


@dataclass(frozen=True)
class Pass:
    """One forward and backward pass of a training step: a sub-net config, its run-time
    precision (``None``: the stored one), the weight of its loss in the step's sum, and
    whether its distillation target is the previous pass's output instead of the first's."""

    config: SubnetConfig
    bits: tuple[int, int] | None = None
    weight: float = 1.0
    from_previous: bool = False


def lowest_precision(precisions: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The cheapest setting on a bit-serial array: fewest ``w * a`` (bit-plane pairs sensed);
    ties to the smaller ``(w, a)``."""
    if not precisions:
        raise ValueError("no precisions to choose the lowest of")
    return min(precisions, key=lambda p: (p[0] * p[1], p))


def step_passes(configs: Sequence[SubnetConfig], precisions: Sequence[tuple[int, int]],
                g: torch.Generator, lower_weight: float = 0.25) -> list[Pass]:
    """The passes of one sandwich step over ``configs`` (largest, smallest, random ones).

    Without lower ``precisions`` every config runs once at the stored precision. With them
    (the joint width x precision network) the largest runs at the stored precision (the
    distillation teacher) and every other config runs twice: at the stored precision (loss
    weight ``1 - lower_weight``) and at a lower one (``lower_weight``). The smallest config's
    lower setting is the lowest (fewest ``w * a``) on half the steps and a random lower one
    otherwise; the random configs' is random. A pair's weights sum to 1, which keeps a step's
    gradient scale, and so the width-only recipe's learning rate, while every width trains at
    the stored precision on every step.

    Why pairs, and why 3/4 : 1/4: on the digits probe (``benchmarks/precision_probe_digits.py``,
    validation), one pass per config at a random setting left the 8/8 sub-nets below the
    width-only network (10 points at the smallest width), more random passes made it worse,
    and over 5 seeds 3/4 : 1/4 beat 1/2 : 1/2 at 8/8, 4/4 and 3/3 (not at 2/2)."""
    if not precisions:
        return [Pass(c) for c in configs]
    lowest = lowest_precision(precisions)

    def lower() -> tuple[int, int]:
        w, a = precisions[int(torch.randint(len(precisions), (1,), generator=g))]
        return (int(w), int(a))

    passes = [Pass(configs[0])] if configs else []
    for i, c in enumerate(configs[1:]):
        at_lowest = i == 0 and float(torch.rand((), generator=g, dtype=torch.float64)) < 0.5
        passes += [Pass(c, None, 1.0 - lower_weight),
                   Pass(c, lowest if at_lowest else lower(), lower_weight)]
    return passes
