"""The ``open_run`` stage: a trained checkpoint with the dataset split it was trained on, and
the small settings every stage shares (torch threads, the progress log).

Data comes from a checkpoint folder or run directory (``dynpim.train.load_checkpoint``) and the
dataset named in its ``train_config`` (``dynpim.data.load_dataset``, same split seed and
held-out size, so held-out samples were never trained on); it goes to the stage that opened it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dynpim.data import DatasetSplits, load_dataset
from dynpim.nn import DynamicNet, SubnetConfig, load_configs
from dynpim.train import Checkpoint, load_checkpoint

Log = Callable[[str], None]


@dataclass
class OpenedRun:
    """A checkpoint and its dataset splits, both on the stage's device."""

    checkpoint: Checkpoint
    splits: DatasetSplits
    dataset: str

    @property
    def model(self) -> DynamicNet:
        return self.checkpoint.model

    @property
    def path(self) -> str:
        return self.checkpoint.path

    @property
    def train_config(self) -> dict[str, Any]:
        return dict(self.checkpoint.meta.get("train_config") or {})

    def configs(self, path: str | None = None, *, hint: str = "pass --configs"
                ) -> list[SubnetConfig]:
        """The configs of ``path`` (a configs JSON), else those stored in the checkpoint (or
        banked in its model); ``ValueError`` when there are none."""
        if path:
            return load_configs(path)
        cfgs = list(self.checkpoint.configs or self.model.banked_configs())
        if not cfgs:
            raise ValueError(f"checkpoint {self.path} stores no configs; {hint}")
        return cfgs


def open_run(checkpoint: str, *, dataset: str | None = None, data_dir: str | None = None,
             device: str = "cpu") -> OpenedRun:
    """Load ``checkpoint`` onto ``device`` with its dataset: the split is the checkpoint's own
    (same holdout and split seed). ``dataset`` / ``data_dir`` override the recorded ones."""
    ck = load_checkpoint(checkpoint, map_location=device)
    ck.model.to(device)
    tc = ck.meta.get("train_config") or {}
    dataset = dataset or tc.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not record its dataset; pass --dataset")
    splits = load_dataset(dataset, data_dir=data_dir or tc.get("data_dir"),
                          split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout"))
    if splits.input_size != tuple(ck.model.input_size):
        raise ValueError(f"dataset {dataset} has input {splits.input_size} but the model was "
                         f"built for {tuple(ck.model.input_size)}")
    return OpenedRun(ck, splits.to(device), dataset)


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads`` for ``--threads`` (None: leave torch's default)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)
