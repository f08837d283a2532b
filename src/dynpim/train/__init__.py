"""Dynamic training (sandwich rule + in-place distillation), evaluation, checkpoints, DDP.

Names are imported lazily (PEP 562): ``from dynpim.train.config import TrainConfig`` does not
import torch, so ``dynpim --help`` starts fast."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_WHERE = {
    "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "read_meta": "checkpoint",
    "resolve_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "store_bn_bank": "checkpoint", "training_state": "checkpoint",
    "TrainConfig": "config",
    "calibration_batches": "evaluate", "evaluate": "evaluate", "evaluate_configs": "evaluate",
    "format_table": "evaluate", "table_heading": "evaluate", "write_table": "evaluate",
    "soft_cross_entropy": "losses",
    "from_pretrained": "pretrained", "save_pretrained": "pretrained",
    "FixedSampler": "samplers", "ListSampler": "samplers", "UniformSampler": "samplers",
    "sandwich": "samplers",
    "Trainer": "trainer", "TrainingDiverged": "trainer", "TrainResult": "trainer",
    "build_model": "trainer", "build_sampler": "trainer", "train": "trainer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


class _Package(types.ModuleType):
    """Keeps ``dynpim.train.evaluate`` the function: importing the submodule of the same name
    would otherwise rebind the package attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _WHERE:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
