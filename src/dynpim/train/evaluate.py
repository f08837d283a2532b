"""Accuracy of sub-nets: calibrate BN per config on training data (never the test set), then
measure top-1; tables of config, MACs, parameters and accuracy as text, JSON and CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
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
    """For each config: calibrate BN on ``calib`` (skip when ``None``: use the banked
    statistics), then top-1 on ``split`` ("test" or "validation"; "holdout" is its old name).
    Each row holds ``top1_<split>`` and ``accuracy_split``. Rows sorted by MACs.

    ``shard=(rank, world_size)`` in a ``torch.distributed`` run: each rank evaluates every
    ``world_size``-th sample from ``rank`` on and the counts are summed over the ranks (the
    same accuracy as one process on the whole split, in 1/world_size of the time)."""
    split = canonical_split(split)
    if split == "train":
        raise ValueError("split must be 'validation' or 'test', got 'train'")
    x, y = splits.split(split)
    gather = shard is not None and shard[1] > 1
    if gather:
        x, y = x[shard[0]::shard[1]], y[shard[0]::shard[1]]
    rows = []
    for cfg in configs:
        cfg = model.validate(cfg)
        if calib is not None:
            calibrate_bn(model, cfg, calib)
        acc = evaluate(model, cfg, iterate_batches(x, y, batch_size), gather=gather)
        rows.append({
            "config": cfg.key, "widths": list(cfg.widths),
            "ratio": round(cfg.ratio(model.slots), 4),
            "macs": model.macs(cfg, splits.input_size), "params": model.params(cfg),
            f"top1_{split}": round(acc, 3), "accuracy_split": split,
        })
    return sorted(rows, key=lambda r: (r["macs"], r["widths"]))


def table_heading(model: DynamicNet, dataset: str, split: str) -> str:
    """One line naming what a table is about: model, data, input size, bit-widths, split."""
    wbits, abits = model.args.get("wbits", 32), model.args.get("abits", 32)
    bits = ("float32" if wbits == 32 and abits == 32
            else f"{wbits}-bit weights, {abits}-bit activations")
    size = "x".join(str(v) for v in model.input_size)
    return f"{model.name} on {dataset} (input {size}, {bits}); top-1 on the {split} split"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the rows (config, ratio, MMACs, params, accuracy)."""
    if not rows:
        return "(no configs)"
    acc_key = next(k for k in rows[0] if k.startswith("top1_"))
    lines = [f"| config | ratio | MMACs | params | {acc_key} (%) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['ratio']:.3f} | {r['macs'] / 1e6:.3f} | "
                     f"{r['params']:,} | {r[acc_key]:.2f} |")
    return "\n".join(lines)


def write_table(rows: Sequence[dict[str, Any]], prefix: str) -> tuple[str, str]:
    """Write ``<prefix>.json`` (with the ``accuracy_split`` of the rows) and ``<prefix>.csv``;
    returns both paths."""
    jp, cp = prefix + ".json", prefix + ".csv"
    split = sorted({r["accuracy_split"] for r in rows if "accuracy_split" in r})
    with open(jp, "w") as f:
        json.dump({"accuracy_split": split[0] if len(split) == 1 else split,
                   "rows": list(rows)}, f, indent=1)
    with open(cp, "w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({**r, "widths": "-".join(map(str, r["widths"]))})
    return jp, cp
