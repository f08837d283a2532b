"""Accuracy of sub-nets: calibrate BN per config on training data (never the test set), then
measure top-1; tables of config, MACs, parameters and accuracy as text, JSON and CSV.

One evaluated config is an :class:`EvalRow`; as a dict (the JSON/CSV edge, and what
:func:`evaluate_configs` returns) its accuracy is under ``top1_<split>`` (:data:`TOP1_KEYS`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dynpim.data import DatasetSplits, canonical_split, iterate_batches
from dynpim.nn import DynamicNet, SubnetConfig, calibrate_bn


@torch.no_grad()
def evaluate(model: DynamicNet, cfg: SubnetConfig | Sequence[int],
             batches: Iterable[tuple[Tensor, Tensor]], *, gather: bool = False) -> float:
    """Top-1 accuracy in percent of ``cfg`` in eval mode (its BN statistics must be banked).

    ``gather``: the batches are this process's shard of the split; the counts of every
    process of the ``torch.distributed`` group are summed (every rank gets the same
    accuracy)."""
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        with model.subnet(cfg):
            for x, y in batches:
                correct += int((model(x).argmax(dim=1) == y).sum())
                total += len(y)
    finally:
        model.train(was_training)
    if gather and torch.distributed.is_available() and torch.distributed.is_initialized():
        counts = torch.tensor([correct, total], dtype=torch.int64)
        if torch.distributed.get_backend() == "nccl":
            counts = counts.cuda()
        torch.distributed.all_reduce(counts)
        correct, total = (int(v) for v in counts.cpu())
    if total == 0:
        raise ValueError("evaluate needs at least one sample")
    return 100.0 * correct / total


def calibration_batches(splits: DatasetSplits, *, batch_size: int = 128, num_batches: int = 50,
                        seed: int = 0) -> list[Tensor]:
    """``num_batches`` un-augmented batches from a fixed shuffle of the *training* split."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for x, _ in iterate_batches(splits.train_x, splits.train_y, batch_size, shuffle=True,
                                generator=g, drop_last=len(splits.train_y) >= batch_size):
        out.append(x)
        if len(out) >= num_batches:
            break
    return out


TOP1_KEYS = {"validation": "top1_validation", "test": "top1_test"}
"""The dict key of a row's accuracy on each split it can be measured on."""


@dataclass(frozen=True)
class EvalRow:
    """One evaluated sub-net: its config (key and widths), width ratio, MACs, parameters and
    top-1 accuracy in percent (rounded to 3 decimals) on ``split`` ("validation" or "test")."""

    config: str
    widths: tuple[int, ...]
    ratio: float
    macs: int
    params: int
    top1: float
    split: str

    def __post_init__(self) -> None:
        if self.split not in TOP1_KEYS:
            raise ValueError(f"split must be one of {sorted(TOP1_KEYS)}, got {self.split!r}")

    def to_dict(self) -> dict[str, Any]:
        """The row as written to JSON/CSV: ``config, widths, ratio, macs, params,
        top1_<split>, accuracy_split``."""
        return {"config": self.config, "widths": list(self.widths), "ratio": self.ratio,
                "macs": self.macs, "params": self.params, TOP1_KEYS[self.split]: self.top1,
                "accuracy_split": self.split}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvalRow:
        """The inverse of :meth:`to_dict`; other keys (e.g. PIM columns merged in) ignored."""
        split = d["accuracy_split"]
        if split not in TOP1_KEYS:
            raise ValueError(f"accuracy_split must be one of {sorted(TOP1_KEYS)}, got {split!r}")
        return cls(d["config"], tuple(int(w) for w in d["widths"]), d["ratio"], d["macs"],
                   d["params"], d[TOP1_KEYS[split]], split)


def _as_row(r: EvalRow | Mapping[str, Any]) -> EvalRow:
    return r if isinstance(r, EvalRow) else EvalRow.from_dict(r)


def evaluate_rows(
    model: DynamicNet,
    configs: Sequence[SubnetConfig],
    splits: DatasetSplits,
    calib: Sequence[Tensor] | None,
    *,
    split: str = "test",
    batch_size: int = 256,
    shard: tuple[int, int] | None = None,
) -> list[EvalRow]:
    """For each config: calibrate BN on ``calib`` (skip when ``None``: use the banked
    statistics), then top-1 on ``split`` ("test" or "validation"; "holdout" is its old name).
    One :class:`EvalRow` per config, sorted by MACs (then widths).

    ``shard=(rank, world_size)`` in a ``torch.distributed`` run: each rank evaluates every
    ``world_size``-th sample from ``rank`` on and the counts are summed over the ranks (the
    same accuracy as one process on the whole split, in 1/world_size of the time)."""
    split = canonical_split(split)
    if split == "train":
        raise ValueError("split must be 'validation' or 'test', got 'train'")
    x, y = splits.split(split)
    gather = shard is not None and shard[1] > 1
    if shard is not None and gather:
        x, y = x[shard[0]::shard[1]], y[shard[0]::shard[1]]
    rows = []
    for cfg in configs:
        cfg = model.validate(cfg)
        if calib is not None:
            calibrate_bn(model, cfg, calib)
        acc = evaluate(model, cfg, iterate_batches(x, y, batch_size), gather=gather)
        rows.append(EvalRow(cfg.key, tuple(cfg.widths), round(cfg.ratio(model.slots), 4),
                            model.macs(cfg, splits.input_size), model.params(cfg),
                            round(acc, 3), split))
    return sorted(rows, key=lambda r: (r.macs, r.widths))


def evaluate_configs(
    model: DynamicNet,
    configs: Sequence[SubnetConfig],
    splits: DatasetSplits,
    calib: Sequence[Tensor] | None,
    *,
    split: str = "test",
    batch_size: int = 256,
    shard: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate_rows` as dicts (:meth:`EvalRow.to_dict`: the accuracy under
    ``top1_<split>``, and ``accuracy_split``), for callers that write or merge them."""
    rows = evaluate_rows(model, configs, splits, calib, split=split, batch_size=batch_size,
                         shard=shard)
    return [r.to_dict() for r in rows]


def table_heading(model: DynamicNet, dataset: str, split: str) -> str:
    """One line naming what a table is about: model, data, input size, bit-widths, split."""
    wbits, abits = model.args.get("wbits", 32), model.args.get("abits", 32)
    bits = ("float32" if wbits == 32 and abits == 32
            else f"{wbits}-bit weights, {abits}-bit activations")
    size = "x".join(str(v) for v in model.input_size)
    return f"{model.name} on {dataset} (input {size}, {bits}); top-1 on the {split} split"


def format_table(rows: Sequence[EvalRow | Mapping[str, Any]]) -> str:
    """A Markdown table of the rows (config, ratio, MMACs, params, accuracy), all measured on
    the first row's split."""
    if not rows:
        return "(no configs)"
    typed = [_as_row(r) for r in rows]
    lines = [f"| config | ratio | MMACs | params | {TOP1_KEYS[typed[0].split]} (%) |",
             "|---|---:|---:|---:|---:|"]
    for r in typed:
        lines.append(f"| {r.config} | {r.ratio:.3f} | {r.macs / 1e6:.3f} | "
                     f"{r.params:,} | {r.top1:.2f} |")
    return "\n".join(lines)


def write_table(rows: Sequence[EvalRow | Mapping[str, Any]], prefix: str) -> tuple[str, str]:
    """Write ``<prefix>.json`` (with the ``accuracy_split`` of the rows) and ``<prefix>.csv``;
    returns both paths. Dict rows are written as they are (extra columns kept)."""
    dicts = [r.to_dict() if isinstance(r, EvalRow) else dict(r) for r in rows]
    jp, cp = prefix + ".json", prefix + ".csv"
    split = sorted({r["accuracy_split"] for r in dicts if "accuracy_split" in r})
    with open(jp, "w") as f:
        json.dump({"accuracy_split": split[0] if len(split) == 1 else split,
                   "rows": dicts}, f, indent=1)
    with open(cp, "w", newline="") as f:
        if dicts:
            w = csv.DictWriter(f, fieldnames=list(dicts[0]))
            w.writeheader()
            for r in dicts:
                w.writerow({**r, "widths": "-".join(map(str, r["widths"]))})
    return jp, cp
