"""The ``search`` stage (``dynpim search``): progressive non-uniform sub-net search on a trained
checkpoint, into the folder ``out``: ``trajectory.jsonl`` (every committed step), ``ranked/``
(the checkpoint after channel ranking and reordering, the search's starting point),
``chosen.json`` (the filtered configs, usable as ``dynpim train --sampling nonuniform --configs
chosen.json``) and ``searched/`` (the searched weights with BN calibrated for the chosen
configs); the papers recipe adds ``pretrained/`` and ``retrained/`` (``stages/recipes.py``).

Data comes from :func:`~dynpim.stages.open_run` (the checkpoint's own split: candidates are
scored on its validation split); the search itself is ``dynpim.search``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from dynpim import pim
from dynpim.data import augment_for, iterate_batches
from dynpim.defaults import DEFAULT_PRESET
from dynpim.nn import DynamicNet, SubnetConfig, calibrate_bn, reorder_channels
from dynpim.rundir import check_run_dir, claim_run_dir
from dynpim.search import (
    COST_KEYS,
    HoldoutEvaluator,
    SearchOptions,
    SearchStep,
    filter_trajectory,
    make_cost_fn,
    make_finetuner,
    progressive_search,
    rank_channels,
    train_with_noise,
)
from dynpim.train import calibration_batches, load_checkpoint, save_checkpoint

from .recipes import RECIPES, pretrain, retrain
from .run import Log, OpenedRun, open_run, set_threads

DEFAULT_HOLDOUT = 2500


@dataclass(frozen=True, kw_only=True)
class SearchRunOptions:
    """What ``dynpim search`` was asked for (its options, in the order of ``--help``); the
    options left ``None`` are filled by the recipe (:meth:`with_recipe`) and, once the
    checkpoint is open, by :func:`resolve_options`."""

    recipe: str = "dynpim"
    checkpoint: str | None = None
    out: str
    model: str | None = None
    width_mult: float = 1.0
    epochs: int = 10
    pretrain_epochs: int | None = None
    retrain_epochs: int | None = None
    train_lr: float = 0.1
    batch_size: int = 128
    allow_dynamic_ranking: bool = False
    objective: str = "accuracy"
    cost: str = "energy"
    preset: str = DEFAULT_PRESET
    active_subarrays: int | None = None
    ranking: str | None = None
    noise_epochs: int = 1
    group_divisor: int = 8
    group_size: int | None = None
    min_ratio: float | None = None
    holdout: int | None = None
    calib_batches: int = 4
    calib_batch_size: int = 256
    eval_batch_size: int = 1000
    finetune_threshold: float | None = None
    finetune_steps: int | None = None
    finetune_lr: float = 0.01
    finetune_optimizer: str | None = None
    finetune_until: str | None = None
    finetune_check_every: int = 50
    filter: str | None = None
    filter_gap: float = 0.10
    rescore: str | None = None
    stop_accuracy: float | None = None
    max_steps: int | None = None
    k: int = 8
    dataset: str | None = None
    data_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    channels_last: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.holdout is not None and self.holdout < 1:
            raise ValueError(f"--holdout must be >= 1, got {self.holdout}")
        for name in ("calib_batches", "calib_batch_size", "eval_batch_size", "k",
                     "noise_epochs", "finetune_check_every", "batch_size", "epochs"):
            v = getattr(self, name)
            if v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
        for name in ("finetune_steps", "group_size", "pretrain_epochs"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
        if self.retrain_epochs is not None and self.retrain_epochs < 0:
            raise ValueError(f"--retrain-epochs must be >= 0, got {self.retrain_epochs}")
        if not 0 <= self.filter_gap <= 1:
            raise ValueError(f"--filter-gap is an accuracy fraction in [0, 1], got "
                             f"{self.filter_gap}")

    def with_recipe(self) -> SearchRunOptions:
        """The options left unset filled with the recipe's defaults (``RECIPES``)."""
        fill = {k: v for k, v in RECIPES[self.recipe].items() if getattr(self, k) is None}
        out = replace(self, **fill)
        out = replace(out, retrain_epochs=out.epochs if out.retrain_epochs is None
                      else out.retrain_epochs,
                      pretrain_epochs=out.epochs if out.pretrain_epochs is None
                      else out.pretrain_epochs)
        if out.checkpoint is None and out.recipe != "papers":
            raise ValueError("--checkpoint is required (only --recipe papers pre-trains a model)")
        if out.checkpoint is None and not (out.model and out.dataset):
            raise ValueError("--recipe papers without --checkpoint needs --model and --dataset "
                             "to pre-train the full model")
        if out.checkpoint is not None and out.model:
            raise ValueError("give either --checkpoint or --model, not both")
        return out

    def search_options(self) -> SearchOptions:
        return SearchOptions(objective=self.objective, cost=self.cost,
                             group_divisor=self.group_divisor, min_ratio=self.min_ratio,
                             finetune_threshold=self.finetune_threshold,
                             stop_accuracy=self.stop_accuracy, max_steps=self.max_steps,
                             group_size=self.group_size)

    def to_dict(self) -> dict[str, Any]:
        """The options as recorded in the run's ``dynpim-run.json``."""
        return {"debug": False, "command": "search", **asdict(self)}


@dataclass
class SearchResult:
    """What the stage wrote: the trajectory, the kept steps and where they are."""

    options: SearchRunOptions        # resolved: recipe, ranking, holdout, ... filled
    steps: list[SearchStep]
    chosen: list[SearchStep]
    chosen_path: str
    trajectory_path: str
    retrained: str | None = None


def resolve_ranking(train_config: dict) -> str:
    """``none`` for a checkpoint trained as a dynamic network (sandwich over several configs),
    ``l1`` for one trained at a single config (e.g. the max-width model)."""
    single = train_config.get("mode") == "individual" or train_config.get("sampling") == "fixed"
    return "l1" if single or not train_config else "none"


def search(opts: SearchRunOptions, log: Log | None = None, warn: Log | None = None
           ) -> SearchResult:
    """The stage: claim ``out``, (pre-train,) rank, search, filter, calibrate and save,
    (retrain). ``log``: progress lines; ``warn``: warnings (both None: silent)."""
    check_run_dir(opts.out, "search", resume=opts.resume, overwrite=opts.overwrite)
    opts = opts.with_recipe()
    set_threads(opts.threads)
    search_opts = opts.search_options()
    hw = pim.load_preset(opts.preset)
    claim_run_dir(opts.out, "search", opts.to_dict(), resume=opts.resume,
                  overwrite=opts.overwrite)
    traj = os.path.join(opts.out, "trajectory.jsonl")
    t0 = time.perf_counter()
    if opts.checkpoint is None:
        opts = replace(opts, checkpoint=pretrain(opts, log))
    assert opts.checkpoint is not None
    run = open_run(opts.checkpoint, dataset=opts.dataset, data_dir=opts.data_dir,
                   device=opts.device)
    opts = resolve_options(opts, run, warn)
    resuming = _ranked_model(opts, run, traj, log)
    calib = calibration_batches(run.splits, batch_size=opts.calib_batch_size,
                                num_batches=opts.calib_batches, seed=opts.seed)
    x, y = run.splits.validation_x[:opts.holdout], run.splits.validation_y[:opts.holdout]
    evaluator = HoldoutEvaluator(x, y, calib, batch_size=opts.eval_batch_size,
                                 channels_last=opts.channels_last)
    steps = progressive_search(run.model, evaluator,
                               make_cost_fn(run.model, hw, active_subarrays=opts.active_subarrays),
                               search_opts, trajectory_path=traj, resume=resuming,
                               finetune=_finetuner(opts, run, evaluator, log),
                               meta=_trajectory_meta(opts), log=log)
    res = _keep(opts, run, steps, evaluator, calib, traj, log)
    if log:
        log(f"{len(steps) - 1} steps, {len(res.chosen)} configs kept by the {opts.filter} "
            f"filter, {time.perf_counter() - t0:.1f}s; wrote {traj} and {res.chosen_path}")
    if opts.retrain_epochs:
        res.retrained = retrain(opts, run.train_config, run.model, res.chosen_path, log)
    return res


def resolve_options(opts: SearchRunOptions, run: OpenedRun, warn: Log | None
                    ) -> SearchRunOptions:
    """The options that depend on the checkpoint: ranking (``auto``), holdout, fine-tuning
    steps; refuses to rank a dynamic checkpoint unless allowed."""
    tc = run.train_config
    ranking = opts.ranking
    if ranking == "auto":
        ranking = resolve_ranking(tc)
    elif ranking != "none" and resolve_ranking(tc) == "none":
        msg = (f"{run.path} was trained as a dynamic network (several widths); ranking it with "
               f"{ranking!r} reorders channels and breaks the prefixes it was trained on "
               f"(its small sub-nets lose much accuracy)")
        if not opts.allow_dynamic_ranking:
            raise ValueError(f"{msg}. Search an individually trained full model (the papers' "
                             f"starting point), use --ranking none, or pass "
                             f"--allow-dynamic-ranking")
        if warn:
            warn(msg)
    n = len(run.splits.holdout_y)
    holdout = min(DEFAULT_HOLDOUT, n) if opts.holdout is None else opts.holdout
    if holdout > n:
        raise ValueError(f"--holdout {holdout} exceeds the checkpoint's held-out split "
                         f"({n} samples)")
    steps = opts.finetune_steps
    if steps is None:
        steps = 200 if opts.recipe == "dynpim" else max(
            1, 2 * len(run.splits.train_y) // opts.batch_size)
    return replace(opts, ranking=ranking, holdout=holdout, finetune_steps=steps)


def _ranked_model(opts: SearchRunOptions, run: OpenedRun, traj: str, log: Log | None) -> bool:
    """Put the search's starting point in ``run.model``: the ``ranked/`` checkpoint of a
    resumed search (returns True), else the model ranked now and saved there."""
    ranked = os.path.join(opts.out, "ranked")
    model = run.model
    if opts.resume and os.path.isfile(traj) and os.path.isdir(ranked):
        load_checkpoint(ranked, model, map_location=opts.device)
        return True
    if opts.resume and log:
        log(f"nothing to resume in {opts.out}; starting a new search")
    noise = None
    if opts.ranking == "noise" and "noise_scores" in run.checkpoint.meta:
        noise = {k: torch.tensor(v) for k, v in run.checkpoint.meta["noise_scores"].items()}
    elif opts.ranking == "noise":
        aug = augment_for(run.splits)
        splits = run.splits

        def batches(epoch: int) -> Any:
            gen = torch.Generator().manual_seed(opts.seed * 7919 + epoch)
            return iterate_batches(splits.train_x, splits.train_y, 128, shuffle=True,
                                   generator=gen, augment=aug, drop_last=True)
        noise = train_with_noise(model, batches, epochs=opts.noise_epochs)
    if opts.ranking != "none":
        assert opts.ranking is not None
        reorder_channels(model, rank_channels(model, opts.ranking, noise_scores=noise))
    model.clear_bn_bank()
    save_checkpoint(ranked, model, extra={"train_config": run.train_config,
                                          "ranking": opts.ranking,
                                          "source_checkpoint": os.path.abspath(run.path)})
    return False


def _finetuner(opts: SearchRunOptions, run: OpenedRun, evaluator: HoldoutEvaluator,
               log: Log | None) -> Any:
    """Selective fine-tuning (None without ``finetune_threshold``)."""
    if opts.finetune_threshold is None:
        return None
    threshold = opts.finetune_threshold

    def recovered(m: Any, c: Any) -> bool:
        return evaluator(m, [c])[0] >= threshold

    assert opts.finetune_steps is not None and opts.finetune_optimizer is not None
    return make_finetuner(
        run.splits.train_x, run.splits.train_y, steps=opts.finetune_steps, lr=opts.finetune_lr,
        optimizer=opts.finetune_optimizer, batch_size=opts.batch_size,
        augment=augment_for(run.splits), seed=opts.seed,
        recover=recovered if opts.finetune_until == "recovered" else None,
        check_every=opts.finetune_check_every, channels_last=opts.channels_last, log=log)


def _trajectory_meta(opts: SearchRunOptions) -> dict[str, Any]:
    """The trajectory header's ``meta`` (a resumed search must match it)."""
    meta = {"ranking": opts.ranking, "accuracy_split": "validation", "holdout": opts.holdout,
            "calib_batches": opts.calib_batches,
            "calib_batch_size": opts.calib_batch_size, "seed": opts.seed, "preset": opts.preset,
            "active_subarrays": opts.active_subarrays,
            "finetune_steps": opts.finetune_steps, "finetune_lr": opts.finetune_lr}
    if opts.recipe != "dynpim" or opts.finetune_optimizer != "sgd-momentum" \
            or opts.finetune_until != "steps":  # keeps older trajectories resumable
        meta.update(recipe=opts.recipe, finetune_optimizer=opts.finetune_optimizer,
                    finetune_until=opts.finetune_until, batch_size=opts.batch_size)
    return meta


def _keep(opts: SearchRunOptions, run: OpenedRun, steps: list[SearchStep], evaluator: Any,
          calib: list[torch.Tensor], traj: str, log: Log | None) -> SearchResult:
    """Filter the trajectory, write ``chosen.json`` and the ``searched/`` checkpoint."""
    model = run.model
    cost_col = COST_KEYS[opts.cost]
    scored = rescore(steps, model, evaluator, log) if opts.rescore == "final" else steps
    assert opts.filter is not None
    chosen = [s if isinstance(s, SearchStep) else SearchStep.from_dict(s) for s in
              filter_trajectory(scored, opts.filter, k=opts.k, cost=cost_col,
                                gap=opts.filter_gap)]
    chosen_path = os.path.join(opts.out, "chosen.json")
    write_chosen(chosen_path, chosen, model, opts, cost_col)
    cfgs = [SubnetConfig(r.config) for r in chosen]
    model.clear_bn_bank()
    for c in cfgs:
        calibrate_bn(model, c, calib)
    save_checkpoint(os.path.join(opts.out, "searched"), model, configs=cfgs,
                    extra={"train_config": run.train_config,
                           "search": {"objective": opts.objective, "cost": opts.cost,
                                      "recipe": opts.recipe, "filter": opts.filter}})
    return SearchResult(opts, steps, chosen, chosen_path, traj)


def rescore(steps: list[SearchStep], model: DynamicNet, evaluator: Any, log: Log | None
            ) -> list[SearchStep]:
    """Steps with ``accuracy`` re-measured on the model's current (final) weights; the
    search-time value moves to ``accuracy_search``. Without fine-tuning the weights never
    changed and the accuracies stay as they are."""
    if not any(r.finetuned for r in steps):
        return [r.with_accuracy(r.accuracy) for r in steps]
    if log:
        log(f"re-scoring {len(steps)} trajectory configs on the final weights")
    accs = evaluator(model, [SubnetConfig(r.config) for r in steps])
    return [r.with_accuracy(a) for r, a in zip(steps, accs)]


def write_chosen(path: str, chosen: list[SearchStep], model: DynamicNet,
                 opts: SearchRunOptions, cost_col: str) -> None:
    """``{"configs": [{"widths", "accuracy", "macs", "energy_j", "latency_s"}, ...], ...}``,
    cheapest first; ``dynpim.nn.load_configs`` reads it."""
    data = {
        "model": model.name, "slots": [s.name for s in model.slots],
        "objective": opts.objective, "cost": opts.cost, "filtered_by": cost_col,
        "recipe": opts.recipe, "filter": opts.filter, "rescore": opts.rescore,
        "accuracy_split": "validation",
        "configs": [{"widths": list(r.config), "accuracy": r.accuracy,
                     "accuracy_search": r.accuracy if r.accuracy_search is None
                     else r.accuracy_search,
                     "macs": r.macs, "energy_j": r.energy_j, "latency_s": r.latency_s,
                     "step": r.step} for r in chosen],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


@dataclass(frozen=True, kw_only=True)
class QuickSearchOptions:
    """The demo's search: accuracy objective on the whole validation split, BN calibrated on
    ``calib_batches`` x ``calib_batch_size`` training images, the trajectory filtered to
    ``keep`` Pareto configs spread over PIM energy. Resumes ``trajectory`` when it exists."""

    trajectory: str
    keep: int = 6
    seed: int = 0
    calib_batches: int = 4
    calib_batch_size: int = 64
    meta: dict[str, Any] | None = None


def quick_search(model: DynamicNet, splits: Any, hw: Any, opts: QuickSearchOptions,
                 log: Log | None = None) -> tuple[list[SearchStep], list[SubnetConfig]]:
    """The stage: ``(steps, kept configs)``, cheapest first."""
    from dynpim.search import filter_configs

    calib = calibration_batches(splits, batch_size=opts.calib_batch_size,
                                num_batches=opts.calib_batches, seed=opts.seed)
    evaluator = HoldoutEvaluator(splits.validation_x, splits.validation_y, calib)
    cost_fn = make_cost_fn(model, hw, input_size=splits.input_size)
    if log:
        log("[search] progressive non-uniform search (objective: accuracy, validation "
            f"split of {len(splits.validation_y)} training images)")
    steps = progressive_search(model, evaluator, cost_fn, SearchOptions(objective="accuracy"),
                               trajectory_path=opts.trajectory, resume=True, meta=opts.meta)
    kept = filter_configs(steps, opts.keep, cost="energy_j")
    return steps, [SubnetConfig(r["config"]) for r in kept]
