"""Progressive non-uniform sub-net search (hardware-aware), channel ranking, filtering and
measured latency: pure search (the operating table is built by ``dynpim.stages.table``)."""

from .costs import COST_KEYS, macs_many, make_cost_fn
from .evaluate import Evaluator, HoldoutEvaluator
from .filtering import (
    FILTERS,
    filter_configs,
    filter_trajectory,
    local_filter,
    pareto_indices,
    spread_indices,
)
from .finetune import OPTIMIZERS, decay_split, make_finetuner
from .progressive import (
    OBJECTIVES,
    SearchOptions,
    candidates,
    check_granularity,
    choose,
    group_sizes,
    min_widths,
    progressive_search,
)
from .ranking import RANKINGS, NoiseInjection, apply_ranking, rank_channels, train_with_noise
from .trajectory import SearchStep, read_trajectory

__all__ = [
    "COST_KEYS",
    "FILTERS",
    "OPTIMIZERS",
    "OBJECTIVES",
    "RANKINGS",
    "Evaluator",
    "HoldoutEvaluator",
    "NoiseInjection",
    "SearchOptions",
    "SearchStep",
    "apply_ranking",
    "candidates",
    "check_granularity",
    "decay_split",
    "choose",
    "filter_configs",
    "filter_trajectory",
    "local_filter",
    "group_sizes",
    "macs_many",
    "make_cost_fn",
    "make_finetuner",
    "min_widths",
    "pareto_indices",
    "progressive_search",
    "rank_channels",
    "read_trajectory",
    "spread_indices",
    "train_with_noise",
]
