"""``dynpim search``: progressive non-uniform sub-net search on a trained checkpoint.

Writes into ``--out``: ``trajectory.jsonl`` (every committed step), ``ranked/`` (the checkpoint
after channel ranking and reordering, the search's starting point), ``chosen.json`` (the
filtered configs, usable as ``dynpim train --sampling nonuniform --configs chosen.json``) and
``searched/`` (the searched weights with BN calibrated for the chosen configs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

DEFAULT_HOLDOUT = 2500


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="progressive non-uniform sub-net search (hardware-aware)",
                       description="Greedy progressive search from the largest config: each step "
                       "removes the channel group that hurts held-out accuracy least (or, with "
                       "--objective accuracy-per-cost, costs least accuracy per saved PIM "
                       "energy/latency/MACs), then filters the trajectory to K configs.")
    p.add_argument("--checkpoint", required=True, help="trained checkpoint folder or run dir")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--objective", choices=("accuracy", "accuracy-per-cost"), default="accuracy")
    p.add_argument("--cost", choices=("energy", "latency", "macs"), default="energy",
                   help="cost of accuracy-per-cost and of filtering (default: energy)")
    p.add_argument("--preset", default="sot-mram", help="PIM hardware preset or YAML path")
    p.add_argument("--active-subarrays", type=int, help="PIM parallelism for the cost "
                   "(default: all computational sub-arrays)")
    p.add_argument("--ranking", choices=("auto", "l1", "bn", "noise", "none"), default="auto",
                   help="channel ranking applied by reordering before the search; auto: none "
                   "for a dynamic (slimmable) checkpoint, whose prefixes are already trained "
                   "to hold the important channels, l1 for a single-config one")
    p.add_argument("--noise-epochs", type=int, default=1, help="epochs of noise training")
    p.add_argument("--group-divisor", type=int, default=8,
                   help="channel group = slot width / this (default 8)")
    p.add_argument("--min-ratio", type=float, help="per-slot minimum width fraction "
                   "(default: each slot's own minimum)")
    p.add_argument("--holdout", type=int, default=None,
                   help="held-out training samples used to score candidates (default: 2500, "
                   "or the checkpoint's whole held-out split when it is smaller)")
    p.add_argument("--calib-batches", type=int, default=4,
                   help="calibration batches reused for every candidate (default 4)")
    p.add_argument("--calib-batch-size", type=int, default=256)
    p.add_argument("--eval-batch-size", type=int, default=1000)
    p.add_argument("--finetune-threshold", type=float,
                   help="fine-tune when held-out accuracy falls below this fraction")
    p.add_argument("--finetune-steps", type=int, default=200)
    p.add_argument("--finetune-lr", type=float, default=0.01)
    p.add_argument("--stop-accuracy", type=float, help="stop below this held-out accuracy")
    p.add_argument("--max-steps", type=int, help="stop after this many removals")
    p.add_argument("--k", type=int, default=8, help="configs to keep (default 8)")
    p.add_argument("--dataset", help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; "
                   "use 1 on a machine whose cores are busy with other work)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def load_inputs(checkpoint: str, dataset: str | None, data_dir: str | None,
                device: str) -> tuple[Any, Any]:
    """``(Checkpoint, DatasetSplits)``: the split is the checkpoint's own (same holdout and
    split seed), so held-out samples were never trained on."""
    from dynpim.data import load_dataset
    from dynpim.train import load_checkpoint

    ck = load_checkpoint(checkpoint, map_location=device)
    ck.model.to(device)
    tc = ck.meta.get("train_config", {})
    dataset = dataset or tc.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not record its dataset; pass --dataset")
    splits = load_dataset(dataset, data_dir=data_dir or tc.get("data_dir"),
                          split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout"))
    if splits.input_size != tuple(ck.model.input_size):
        raise ValueError(f"dataset {dataset} has input {splits.input_size} but the model was "
                         f"built for {tuple(ck.model.input_size)}")
    return ck, splits.to(device)


def resolve_ranking(train_config: dict) -> str:
    """``none`` for a checkpoint trained as a dynamic network (sandwich over several configs),
    ``l1`` for one trained at a single config (e.g. the max-width model)."""
    single = train_config.get("mode") == "individual" or train_config.get("sampling") == "fixed"
    return "l1" if single or not train_config else "none"


def _check(args: argparse.Namespace) -> None:
    if args.holdout is not None and args.holdout < 1:
        raise ValueError(f"--holdout must be >= 1, got {args.holdout}")
    for name in ("calib_batches", "calib_batch_size", "eval_batch_size", "k",
                 "finetune_steps", "noise_epochs"):
        v = getattr(args, name)
        if v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")


def run(args: argparse.Namespace) -> int:
    from dynpim import pim
    from dynpim.data import augment_for
    from dynpim.search import (
        HoldoutEvaluator,
        SearchOptions,
        apply_ranking,
        filter_configs,
        make_cost_fn,
        make_finetuner,
        progressive_search,
        rank_channels,
        train_with_noise,
    )
    from dynpim.train import calibration_batches, load_checkpoint, save_checkpoint

    _check(args)
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    opts = SearchOptions(objective=args.objective, cost=args.cost,
                         group_divisor=args.group_divisor, min_ratio=args.min_ratio,
                         finetune_threshold=args.finetune_threshold,
                         stop_accuracy=args.stop_accuracy, max_steps=args.max_steps)
    hw = pim.load_preset(args.preset)
    os.makedirs(args.out, exist_ok=True)
    traj = os.path.join(args.out, "trajectory.jsonl")
    ranked = os.path.join(args.out, "ranked")
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    ck, splits = load_inputs(args.checkpoint, args.dataset, args.data_dir, args.device)
    model = ck.model
    if args.ranking == "auto":
        args.ranking = resolve_ranking(ck.meta.get("train_config", {}))
    if args.holdout is None:
        args.holdout = min(DEFAULT_HOLDOUT, len(splits.holdout_y))
    if args.holdout > len(splits.holdout_y):
        raise ValueError(f"--holdout {args.holdout} exceeds the checkpoint's held-out split "
                         f"({len(splits.holdout_y)} samples)")
    resuming = args.resume and os.path.isfile(traj) and os.path.isdir(ranked)
    t0 = time.perf_counter()
    if resuming:
        load_checkpoint(ranked, model, map_location=args.device)
    else:
        if args.resume and log:
            log(f"nothing to resume in {args.out}; starting a new search")
        noise = None
        if args.ranking == "noise":
            aug = augment_for(splits)

            def batches(epoch: int):
                import torch

                from dynpim.data import iterate_batches
                gen = torch.Generator().manual_seed(args.seed * 7919 + epoch)
                return iterate_batches(splits.train_x, splits.train_y, 128, shuffle=True,
                                       generator=gen, augment=aug, drop_last=True)
            noise = train_with_noise(model, batches, epochs=args.noise_epochs)
        if args.ranking != "none":
            apply_ranking(model, rank_channels(model, args.ranking, noise_scores=noise))
        model.clear_bn_bank()
        save_checkpoint(ranked, model, extra={"train_config": ck.meta.get("train_config", {}),
                                              "ranking": args.ranking,
                                              "source_checkpoint": os.path.abspath(ck.path)})
    calib = calibration_batches(splits, batch_size=args.calib_batch_size,
                                num_batches=args.calib_batches, seed=args.seed)
    x, y = splits.validation_x[:args.holdout], splits.validation_y[:args.holdout]
    evaluator = HoldoutEvaluator(x, y, calib, batch_size=args.eval_batch_size)
    finetune = None
    if args.finetune_threshold is not None:
        finetune = make_finetuner(splits.train_x, splits.train_y, steps=args.finetune_steps,
                                  lr=args.finetune_lr, augment=augment_for(splits),
                                  seed=args.seed)
    cost_fn = make_cost_fn(model, hw, active_subarrays=args.active_subarrays)
    meta = {"ranking": args.ranking, "accuracy_split": "validation", "holdout": args.holdout,
            "calib_batches": args.calib_batches,
            "calib_batch_size": args.calib_batch_size, "seed": args.seed, "preset": args.preset,
            "active_subarrays": args.active_subarrays,
            "finetune_steps": args.finetune_steps, "finetune_lr": args.finetune_lr}
    records = progressive_search(model, evaluator, cost_fn, opts, trajectory_path=traj,
                                 resume=resuming, finetune=finetune, meta=meta, log=log)
    cost_col = {"energy": "energy_j", "latency": "latency_s", "macs": "macs"}[args.cost]
    chosen = filter_configs(records, args.k, cost=cost_col)
    write_chosen(os.path.join(args.out, "chosen.json"), chosen, model, args, cost_col)
    from dynpim.nn import SubnetConfig, calibrate_bn

    cfgs = [SubnetConfig(r["config"]) for r in chosen]
    model.clear_bn_bank()
    for c in cfgs:
        calibrate_bn(model, c, calib)
    save_checkpoint(os.path.join(args.out, "searched"), model, configs=cfgs,
                    extra={"train_config": ck.meta.get("train_config", {}),
                           "search": {"objective": args.objective, "cost": args.cost}})
    if log:
        log(f"{len(records) - 1} steps, {len(chosen)} configs chosen, "
            f"{time.perf_counter() - t0:.1f}s; wrote {traj} and "
            f"{os.path.join(args.out, 'chosen.json')}")
    return 0


def write_chosen(path: str, chosen: list[dict], model: Any, args: argparse.Namespace,
                 cost_col: str) -> None:
    """``{"configs": [{"widths", "accuracy", "macs", "energy_j", "latency_s"}, ...], ...}``,
    cheapest first; ``dynpim.nn.load_configs`` reads it."""
    data = {
        "model": model.name, "slots": [s.name for s in model.slots],
        "objective": args.objective, "cost": args.cost, "filtered_by": cost_col,
        "accuracy_split": "validation",
        "configs": [{"widths": r["config"], "accuracy": r["accuracy"], "macs": r["macs"],
                     "energy_j": r["energy_j"], "latency_s": r["latency_s"],
                     "step": r["step"]} for r in chosen],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
