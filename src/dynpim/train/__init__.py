"""Dynamic training (sandwich rule + in-place distillation), evaluation, checkpoints, DDP."""

from .checkpoint import (
    Checkpoint,
    load_checkpoint,
    read_meta,
    resolve_checkpoint,
    save_checkpoint,
    store_bn_bank,
)
from .config import TrainConfig
from .evaluate import (
    calibration_batches,
    evaluate,
    evaluate_configs,
    format_table,
    table_heading,
    write_table,
)
from .losses import soft_cross_entropy
from .pretrained import from_pretrained, save_pretrained
from .samplers import FixedSampler, ListSampler, UniformSampler, sandwich
from .trainer import Trainer, TrainingDiverged, TrainResult, build_model, build_sampler, train

__all__ = [
    "Checkpoint",
    "FixedSampler",
    "ListSampler",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "UniformSampler",
    "build_model",
    "build_sampler",
    "calibration_batches",
    "evaluate",
    "evaluate_configs",
    "from_pretrained",
    "format_table",
    "table_heading",
    "load_checkpoint",
    "read_meta",
    "resolve_checkpoint",
    "sandwich",
    "save_checkpoint",
    "save_pretrained",
    "store_bn_bank",
    "soft_cross_entropy",
    "train",
    "write_table",
]
