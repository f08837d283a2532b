"""``dynpim search``: progressive non-uniform sub-net search on a trained checkpoint.

Writes into ``--out``: ``trajectory.jsonl`` (every committed step), ``ranked/`` (the checkpoint
after channel ranking and reordering, the search's starting point), ``chosen.json`` (the
filtered configs, usable as ``dynpim train --sampling nonuniform --configs chosen.json``) and
``searched/`` (the searched weights with BN calibrated for the chosen configs).

Two recipes fill the defaults of the options not given (``RECIPES``): ``dynpim`` (the
hardware-aware variant: Pareto + K filter, fixed-length fine-tuning with momentum) and
``papers`` (the authors' pipeline: an individually pre-trained full model -- trained here first
when no ``--checkpoint`` is given, with trainable noise from scratch for ``--ranking noise`` --,
L1 ranking, fine-tuning with plain SGD until held-out accuracy recovers, the authors' local
filter re-scored on the final weights, and retraining of the dynamic network on the filtered
list into ``retrained/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

DEFAULT_HOLDOUT = 2500

# Defaults per recipe for the options left unset on the command line.
RECIPES: dict[str, dict[str, Any]] = {
    "dynpim": {"ranking": "auto", "finetune_threshold": None, "finetune_optimizer": "sgd-momentum",
               "finetune_until": "steps", "filter": "pareto", "rescore": "trajectory",
               "retrain_epochs": 0},
    "papers": {"ranking": "l1", "finetune_threshold": 0.5, "finetune_optimizer": "sgd",
               "finetune_until": "recovered", "filter": "local", "rescore": "final",
               "retrain_epochs": None},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="progressive non-uniform sub-net search (hardware-aware)",
                       description="Greedy progressive search from the largest config: each step "
                       "removes the channel group that hurts held-out accuracy least (or, with "
                       "--objective accuracy-per-cost, costs least accuracy per saved PIM "
                       "energy/latency/MACs), then filters the trajectory to K configs.")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="dynpim",
                   help="defaults for the options not given: dynpim (hardware-aware variant, "
                   "Pareto + K filter) or papers (the authors' pipeline: pre-train, rank, "
                   "search with fine-tuning until recovery, local filter, retrain); see "
                   "docs/search.md")
    p.add_argument("--checkpoint", help="trained checkpoint folder or run dir (required by "
                   "--recipe dynpim; papers without it pre-trains --model first)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="papers recipe without --checkpoint: model to pre-train "
                   "individually at full width (e.g. resnet20, resnet20_fine, resnet20_untied)")
    p.add_argument("--width-mult", type=float, default=1.0,
                   help="papers recipe without --checkpoint: width multiplier of --model")
    p.add_argument("--epochs", type=int, default=10, help="papers recipe: epochs of the "
                   "pre-training and of the retraining (default 10)")
    p.add_argument("--pretrain-epochs", type=int,
                   help="papers recipe: epochs of the full-model pre-training (default --epochs)")
    p.add_argument("--retrain-epochs", type=int, help="epochs of the dynamic network retrained "
                   "from scratch on the filtered configs (papers default --epochs; dynpim "
                   "default 0 = skip)")
    p.add_argument("--train-lr", type=float, default=0.1,
                   help="peak lr of pre-training and retraining (default 0.1)")
    p.add_argument("--batch-size", type=int, default=128,
                   help="batch of pre-training, retraining and fine-tuning (default 128)")
    p.add_argument("--allow-dynamic-ranking", action="store_true",
                   help="allow --ranking l1/bn/noise on a checkpoint trained as a dynamic "
                   "network (reordering breaks the prefixes it was trained on)")
    p.add_argument("--objective", choices=("accuracy", "accuracy-per-cost"), default="accuracy")
    p.add_argument("--cost", choices=("energy", "latency", "macs"), default="energy",
                   help="cost of accuracy-per-cost and of filtering (default: energy)")
    p.add_argument("--preset", default="sot-mram", help="PIM hardware preset or YAML path")
    p.add_argument("--active-subarrays", type=int, help="PIM parallelism for the cost "
                   "(default: all computational sub-arrays)")
    p.add_argument("--ranking", choices=("auto", "l1", "bn", "noise", "none"),
                   help="channel ranking applied by reordering before the search; auto "
                   "(dynpim default): none for a dynamic (slimmable) checkpoint, whose prefixes "
                   "are already trained to hold the important channels, l1 for a single-config "
                   "one; papers default: l1")
    p.add_argument("--noise-epochs", type=int, default=1, help="epochs of noise fine-tuning of "
                   "a given checkpoint (without --checkpoint, papers: the whole pre-training "
                   "runs with noise from scratch)")
    p.add_argument("--group-divisor", type=int, default=8,
                   help="channel group = slot width / this (default 8)")
    p.add_argument("--group-size", type=int, help="channels per group in every slot (1: one "
                   "channel per step, as the authors for ResNet-20; needs step-1 slots, e.g. "
                   "resnet20_fine)")
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
    p.add_argument("--finetune-steps", type=int, help="fine-tuning steps (dynpim default 200) "
                   "or, with --finetune-until recovered, their cap (papers default: 2 epochs)")
    p.add_argument("--finetune-lr", type=float, default=0.01)
    p.add_argument("--finetune-optimizer", choices=("sgd", "sgd-momentum"),
                   help="sgd: plain SGD, no weight decay (papers default); sgd-momentum: "
                   "momentum 0.9, weight decay 5e-4 (dynpim default)")
    p.add_argument("--finetune-until", choices=("recovered", "steps"),
                   help="recovered: until held-out accuracy is back above the threshold, "
                   "capped at --finetune-steps (papers default); steps: exactly "
                   "--finetune-steps (dynpim default)")
    p.add_argument("--finetune-check-every", type=int, default=50,
                   help="steps between held-out checks with --finetune-until recovered")
    p.add_argument("--filter", choices=("local", "keep-all", "pareto"),
                   help="local: the authors' rule (drop a sub-net only when the next smaller "
                   "one is more accurate by less than --filter-gap; papers default); keep-all; "
                   "pareto: Pareto set + --k spread configs (dynpim default)")
    p.add_argument("--filter-gap", type=float, default=0.10,
                   help="accuracy gap of the local filter, fraction (default 0.10)")
    p.add_argument("--rescore", choices=("final", "trajectory"),
                   help="accuracies the filter uses: re-measured on the final (fine-tuned) "
                   "weights (papers default) or as recorded during the search (dynpim)")
    p.add_argument("--stop-accuracy", type=float, help="stop below this held-out accuracy")
    p.add_argument("--max-steps", type=int, help="stop after this many removals")
    p.add_argument("--k", type=int, default=8, help="configs kept by --filter pareto "
                   "(default 8)")
    p.add_argument("--dataset", help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the search run already in --out (its files are rewritten)")
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
    for name in ("calib_batches", "calib_batch_size", "eval_batch_size", "k", "noise_epochs",
                 "finetune_check_every", "batch_size", "epochs"):
        v = getattr(args, name)
        if v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    for name in ("finetune_steps", "group_size", "pretrain_epochs"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if args.retrain_epochs is not None and args.retrain_epochs < 0:
        raise ValueError(f"--retrain-epochs must be >= 0, got {args.retrain_epochs}")
    if not 0 <= args.filter_gap <= 1:
        raise ValueError(f"--filter-gap is an accuracy fraction in [0, 1], got {args.filter_gap}")


def apply_recipe(args: argparse.Namespace) -> None:
    """Fill the options left unset with the recipe's defaults (``RECIPES``)."""
    for k, v in RECIPES[args.recipe].items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    if args.retrain_epochs is None:
        args.retrain_epochs = args.epochs
    if args.pretrain_epochs is None:
        args.pretrain_epochs = args.epochs
    if args.checkpoint is None and args.recipe != "papers":
        raise ValueError("--checkpoint is required (only --recipe papers pre-trains a model)")
    if args.checkpoint is None and not (args.model and args.dataset):
        raise ValueError("--recipe papers without --checkpoint needs --model and --dataset to "
                         "pre-train the full model")
    if args.checkpoint is not None and args.model:
        raise ValueError("give either --checkpoint or --model, not both")


def pretrain(args: argparse.Namespace, log: Any) -> str:
    """The papers' starting point: the full-width model trained individually (with trainable
    noise from scratch for ``--ranking noise``). Returns its checkpoint path."""
    from dataclasses import asdict

    from dynpim.train import TrainConfig, train

    out = os.path.join(args.out, "pretrained")
    cfg = TrainConfig(model=args.model, width_mult=args.width_mult, dataset=args.dataset,
                      data_dir=args.data_dir, holdout=args.holdout,
                      mode="individual", width=1.0, epochs=args.pretrain_epochs,
                      lr=args.train_lr, batch_size=args.batch_size, seed=args.seed,
                      out=out, device=args.device, progress=False, eval_widths=(1.0,))
    if os.path.isfile(os.path.join(out, "checkpoint", "meta.json")):
        if log:
            log(f"using the pre-trained model in {out}")
        return os.path.join(out, "checkpoint")
    if args.ranking != "noise":
        res = train(cfg, log=log)
        assert res.checkpoint is not None
        return res.checkpoint
    import torch

    from dynpim.data import augment_for, iterate_batches, load_dataset
    from dynpim.search import train_with_noise
    from dynpim.train import build_model, save_checkpoint
    from dynpim.train.trainer import seed_everything

    seed_everything(args.seed)
    splits = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=cfg.split_seed,
                          holdout=cfg.holdout).to(args.device)
    model = build_model(cfg, splits).to(args.device)
    aug = augment_for(splits)

    def batches(epoch: int):
        gen = torch.Generator().manual_seed(args.seed * 7919 + epoch)
        return iterate_batches(splits.train_x, splits.train_y, args.batch_size, shuffle=True,
                               generator=gen, augment=aug, drop_last=True)

    scores = train_with_noise(model, batches, epochs=args.pretrain_epochs, lr=args.train_lr,
                              cosine=True, log=log)
    path = os.path.join(out, "checkpoint")
    tc = asdict(cfg)
    tc["holdout"] = len(splits.holdout_y)
    save_checkpoint(path, model, extra={"train_config": tc, "noise_scores": {
        k: v.tolist() for k, v in scores.items()}})
    return path


def run(args: argparse.Namespace) -> int:
    from dynpim import pim
    from dynpim.data import augment_for
    from dynpim.rundir import check_run_dir, claim_run_dir
    from dynpim.search import (
        HoldoutEvaluator,
        SearchOptions,
        apply_ranking,
        filter_trajectory,
        make_cost_fn,
        make_finetuner,
        progressive_search,
        rank_channels,
        train_with_noise,
    )
    from dynpim.train import calibration_batches, load_checkpoint, save_checkpoint

    _check(args)
    check_run_dir(args.out, "search", resume=args.resume, overwrite=args.overwrite)
    apply_recipe(args)
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    opts = SearchOptions(objective=args.objective, cost=args.cost,
                         group_divisor=args.group_divisor, min_ratio=args.min_ratio,
                         finetune_threshold=args.finetune_threshold,
                         stop_accuracy=args.stop_accuracy, max_steps=args.max_steps,
                         group_size=args.group_size)
    hw = pim.load_preset(args.preset)
    claim_run_dir(args.out, "search", {k: v for k, v in vars(args).items() if k != "func"},
                  resume=args.resume, overwrite=args.overwrite)
    traj = os.path.join(args.out, "trajectory.jsonl")
    ranked = os.path.join(args.out, "ranked")
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    if args.checkpoint is None:
        args.checkpoint = pretrain(args, log)
    ck, splits = load_inputs(args.checkpoint, args.dataset, args.data_dir, args.device)
    model = ck.model
    tc = ck.meta.get("train_config", {})
    if args.ranking == "auto":
        args.ranking = resolve_ranking(tc)
    elif args.ranking != "none" and resolve_ranking(tc) == "none":
        msg = (f"{ck.path} was trained as a dynamic network (several widths); ranking it with "
               f"{args.ranking!r} reorders channels and breaks the prefixes it was trained on "
               f"(its small sub-nets lose much accuracy)")
        if not args.allow_dynamic_ranking:
            raise ValueError(f"{msg}. Search an individually trained full model (the papers' "
                             f"starting point), use --ranking none, or pass "
                             f"--allow-dynamic-ranking")
        print(f"dynpim search: warning: {msg}", file=sys.stderr)
    if args.holdout is None:
        args.holdout = min(DEFAULT_HOLDOUT, len(splits.holdout_y))
    if args.holdout > len(splits.holdout_y):
        raise ValueError(f"--holdout {args.holdout} exceeds the checkpoint's held-out split "
                         f"({len(splits.holdout_y)} samples)")
    if args.finetune_steps is None:
        args.finetune_steps = 200 if args.recipe == "dynpim" else max(
            1, 2 * len(splits.train_y) // args.batch_size)
    resuming = args.resume and os.path.isfile(traj) and os.path.isdir(ranked)
    if resuming:
        load_checkpoint(ranked, model, map_location=args.device)
    else:
        if args.resume and log:
            log(f"nothing to resume in {args.out}; starting a new search")
        noise = None
        if args.ranking == "noise" and "noise_scores" in ck.meta:
            import torch

            noise = {k: torch.tensor(v) for k, v in ck.meta["noise_scores"].items()}
        elif args.ranking == "noise":
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
        save_checkpoint(ranked, model, extra={"train_config": tc, "ranking": args.ranking,
                                              "source_checkpoint": os.path.abspath(ck.path)})
    calib = calibration_batches(splits, batch_size=args.calib_batch_size,
                                num_batches=args.calib_batches, seed=args.seed)
    x, y = splits.validation_x[:args.holdout], splits.validation_y[:args.holdout]
    evaluator = HoldoutEvaluator(x, y, calib, batch_size=args.eval_batch_size)
    finetune = None
    if args.finetune_threshold is not None:
        threshold = args.finetune_threshold

        def recovered(m: Any, c: Any) -> bool:
            return evaluator(m, [c])[0] >= threshold

        finetune = make_finetuner(
            splits.train_x, splits.train_y, steps=args.finetune_steps, lr=args.finetune_lr,
            optimizer=args.finetune_optimizer, batch_size=args.batch_size,
            augment=augment_for(splits), seed=args.seed,
            recover=recovered if args.finetune_until == "recovered" else None,
            check_every=args.finetune_check_every, log=log)
    cost_fn = make_cost_fn(model, hw, active_subarrays=args.active_subarrays)
    meta = {"ranking": args.ranking, "accuracy_split": "validation", "holdout": args.holdout,
            "calib_batches": args.calib_batches,
            "calib_batch_size": args.calib_batch_size, "seed": args.seed, "preset": args.preset,
            "active_subarrays": args.active_subarrays,
            "finetune_steps": args.finetune_steps, "finetune_lr": args.finetune_lr}
    if args.recipe != "dynpim" or args.finetune_optimizer != "sgd-momentum" \
            or args.finetune_until != "steps":  # keeps older trajectories resumable
        meta.update(recipe=args.recipe, finetune_optimizer=args.finetune_optimizer,
                    finetune_until=args.finetune_until, batch_size=args.batch_size)
    records = progressive_search(model, evaluator, cost_fn, opts, trajectory_path=traj,
                                 resume=resuming, finetune=finetune, meta=meta, log=log)
    cost_col = {"energy": "energy_j", "latency": "latency_s", "macs": "macs"}[args.cost]
    scored = rescore(records, model, evaluator, log) if args.rescore == "final" else records
    chosen = filter_trajectory(scored, args.filter, k=args.k, cost=cost_col, gap=args.filter_gap)
    chosen_path = os.path.join(args.out, "chosen.json")
    write_chosen(chosen_path, chosen, model, args, cost_col)
    from dynpim.nn import SubnetConfig, calibrate_bn

    cfgs = [SubnetConfig(r["config"]) for r in chosen]
    model.clear_bn_bank()
    for c in cfgs:
        calibrate_bn(model, c, calib)
    save_checkpoint(os.path.join(args.out, "searched"), model, configs=cfgs,
                    extra={"train_config": tc,
                           "search": {"objective": args.objective, "cost": args.cost,
                                      "recipe": args.recipe, "filter": args.filter}})
    if log:
        log(f"{len(records) - 1} steps, {len(chosen)} configs kept by the {args.filter} filter, "
            f"{time.perf_counter() - t0:.1f}s; wrote {traj} and {chosen_path}")
    if args.retrain_epochs:
        retrain(args, tc, model, chosen_path, log)
    return 0


def rescore(records: list[dict], model: Any, evaluator: Any, log: Any) -> list[dict]:
    """Records with ``accuracy`` re-measured on the model's current (final) weights; the
    search-time value moves to ``accuracy_search``. Without fine-tuning the weights never
    changed and the records are returned as they are."""
    if not any(r.get("finetuned") for r in records):
        return [dict(r, accuracy_search=r["accuracy"]) for r in records]
    from dynpim.nn import SubnetConfig

    if log:
        log(f"re-scoring {len(records)} trajectory configs on the final weights")
    accs = evaluator(model, [SubnetConfig(r["config"]) for r in records])
    return [dict(r, accuracy=a, accuracy_search=r["accuracy"]) for r, a in zip(records, accs)]


def retrain(args: argparse.Namespace, tc: dict, model: Any, chosen_path: str, log: Any) -> str:
    """The papers' last step: the dynamic network trained from scratch (sandwich rule) on the
    filtered configs, into ``<out>/retrained``. Returns its checkpoint path."""
    from dynpim.train import TrainConfig, train

    done = os.path.join(args.out, "retrained", "checkpoint")
    if args.resume and os.path.isfile(os.path.join(done, "meta.json")):
        if log:
            log(f"using the retrained network in {done}")
        return done
    margs = model.args
    cfg = TrainConfig(model=model.name, width_mult=margs.get("width_mult", 1.0),
                      wbits=margs.get("wbits", 32), abits=margs.get("abits", 32),
                      dataset=args.dataset or tc.get("dataset"),
                      data_dir=args.data_dir or tc.get("data_dir"), holdout=tc.get("holdout"),
                      split_seed=tc.get("split_seed", 0), mode="dynamic", sampling="nonuniform",
                      configs=os.path.abspath(chosen_path), epochs=args.retrain_epochs,
                      lr=args.train_lr, batch_size=args.batch_size, seed=args.seed,
                      calib_batches=min(50, max(args.calib_batches, 10)),
                      out=os.path.join(args.out, "retrained"), device=args.device,
                      progress=False)
    if log:
        log(f"retraining the dynamic {model.name} on the {args.filter}-filtered configs for "
            f"{args.retrain_epochs} epoch(s)")
    res = train(cfg, log=log)
    assert res.checkpoint is not None
    return res.checkpoint


def write_chosen(path: str, chosen: list[dict], model: Any, args: argparse.Namespace,
                 cost_col: str) -> None:
    """``{"configs": [{"widths", "accuracy", "macs", "energy_j", "latency_s"}, ...], ...}``,
    cheapest first; ``dynpim.nn.load_configs`` reads it."""
    data = {
        "model": model.name, "slots": [s.name for s in model.slots],
        "objective": args.objective, "cost": args.cost, "filtered_by": cost_col,
        "recipe": args.recipe, "filter": args.filter, "rescore": args.rescore,
        "accuracy_split": "validation",
        "configs": [{"widths": r["config"], "accuracy": r["accuracy"],
                     "accuracy_search": r.get("accuracy_search", r["accuracy"]),
                     "macs": r["macs"], "energy_j": r["energy_j"], "latency_s": r["latency_s"],
                     "step": r["step"]} for r in chosen],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
