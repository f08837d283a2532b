"""The ``train`` and ``quantize`` stages (``dynpim train``; the demo's training steps): a
training run in a run directory -- claimed, resumed from its checkpoint (changed
hyper-parameters only when named in ``override``), or replaced -- then
``dynpim.train.train``. Quantization is training too: quantization-aware fine-tuning of a
float checkpoint at ``bits`` (:func:`quantize`)."""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass, field, replace
from typing import Any

from dynpim.data import DatasetSplits
from dynpim.errors import CheckpointError, DynpimError
from dynpim.models import list_models
from dynpim.rundir import check_run_dir, claim_run_dir, record_override
from dynpim.train import TrainConfig, read_meta, train

from .run import Log, set_threads

OPTION_KEYS = tuple(f for f in TrainConfig.__dataclass_fields__)
# may differ on resume without --override: where and how the run runs, not what it learns
RESUME_FREE = ("out", "data_dir", "device", "progress", "checkpoint_every", "max_steps")
# can never change on resume (the checkpoint's tensors or step count depend on them)
RESUME_FIXED = ("model", "width_mult", "wbits", "abits", "precisions", "dataset", "holdout",
                "split_seed", "mode", "sampling", "batch_size", "epochs", "seed")
TRAIN_OUTPUTS = ("metrics.jsonl", "metrics.jsonl.tmp", "metrics.csv", "env.json", "eval.json",
                 "eval.csv", "config.yaml")


@dataclass(frozen=True, kw_only=True)
class TrainRunOptions:
    """A training run: the options the user gave (``requested``: ``TrainConfig`` fields, from
    a config file and the command line), and how the run directory is treated."""

    requested: dict[str, Any] = field(default_factory=dict)
    resume: bool | str = False      # True: the run's own checkpoint; str: that checkpoint
    override: tuple[str, ...] = ()
    overwrite: bool = False
    threads: int | None = None

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.requested)


@dataclass
class TrainRunResult:
    config: TrainConfig
    checkpoint: str | None
    changes: dict[str, tuple[Any, Any]]


def resumed_config(opts: TrainRunOptions, saved: dict) -> tuple[TrainConfig, dict]:
    """The config of a resumed run: the checkpoint's ``saved`` options, with those the user
    gave on top. Returns it and the changed hyper-parameters ``{key: (old, new)}``; refuses
    (one line) a change that is neither free nor named in ``override``."""
    requested = opts.config.to_dict()
    given = set(opts.requested)
    base = {k: v for k, v in saved.items() if k in OPTION_KEYS}
    merged = {**base, **{k: requested[k] for k in given}}
    for k in RESUME_FREE:  # where/how it runs: this command's (or the defaults)
        merged[k] = requested[k]
    cfg = TrainConfig.from_dict(merged)
    new = cfg.to_dict()
    changes = {k: (base[k], new[k]) for k in base
               if k not in RESUME_FREE and base[k] != new[k]}
    fixed = sorted(k for k in changes if k in RESUME_FIXED)
    if fixed:
        k = fixed[0]
        raise DynpimError(f"cannot resume: the checkpoint has {k}={changes[k][0]!r}, this run "
                          f"asks for {k}={changes[k][1]!r}, and {k} cannot change on resume "
                          f"(start a new run in another --out)")
    refused = sorted(k for k in changes if k not in set(opts.override))
    if refused:
        shown = ", ".join(f"{k} {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
        raise DynpimError(f"cannot resume with changed hyper-parameters ({shown}); name each "
                          f"in --override (e.g. --override {','.join(refused)}) to accept it, "
                          f"or drop it")
    return cfg, changes


def remove_train_outputs(out: str) -> None:
    """What a train run wrote into ``out`` (``--overwrite``): its checkpoint (and leftovers),
    metrics, eval table and config; nothing else."""
    for d in [os.path.join(out, "checkpoint"), os.path.join(out, "checkpoint.old"),
              *glob.glob(os.path.join(glob.escape(out), "checkpoint.tmp-*")),
              *glob.glob(os.path.join(glob.escape(out), "checkpoint.trash-*"))]:
        shutil.rmtree(d, ignore_errors=True)
    for f in TRAIN_OUTPUTS:
        if os.path.isfile(os.path.join(out, f)):
            os.remove(os.path.join(out, f))


def check_init_from(cfg: TrainConfig) -> None:
    """``--init-from`` names a readable checkpoint of the same model (one-line errors)."""
    assert cfg.init_from is not None
    name = read_meta(cfg.init_from)["model"]["name"]
    if name != cfg.model:
        raise CheckpointError(f"--init-from {cfg.init_from}: holds a {name} model, this run "
                              f"trains {cfg.model}")


def train_run(opts: TrainRunOptions, log: Log | None = None) -> TrainRunResult:
    """The stage. With ``torchrun`` every process runs it: only the first (``RANK`` 0) owns
    the run directory."""
    cfg = opts.config
    if cfg.model not in list_models():
        raise ValueError(f"unknown model {cfg.model!r}; available: {', '.join(list_models())}")
    if opts.override and not opts.resume:
        raise ValueError("--override only applies with --resume")
    if opts.resume and opts.overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    main_process = os.environ.get("RANK", "0") == "0"
    info = check_run_dir(cfg.out, "train", resume=bool(opts.resume),
                         overwrite=opts.overwrite) if main_process else None
    changes: dict[str, tuple[Any, Any]] = {}
    if opts.resume:
        src = opts.resume if isinstance(opts.resume, str) else cfg.out
        cfg, changes = resumed_config(opts, read_meta(src).get("train_config") or {})
    if cfg.init_from:
        check_init_from(cfg)
    set_threads(opts.threads)
    if info is not None and opts.overwrite:
        remove_train_outputs(cfg.out)
    if main_process:
        claim_run_dir(cfg.out, "train", cfg.to_dict(), resume=bool(opts.resume),
                      overwrite=opts.overwrite)
    if changes and main_process:
        record_override(cfg.out, changes, cfg.to_dict(), option="--override")
        if log:
            log("resuming with overrides: " + ", ".join(
                f"{k} {o!r} -> {n!r}" for k, (o, n) in changes.items()))
    try:
        res = train(cfg, resume=opts.resume, log=log)
    except ValueError as e:  # the weights of --init-from do not fit: name the file
        if cfg.init_from and str(e).startswith("float state does not fit"):
            raise CheckpointError(f"--init-from {cfg.init_from}: {e}") from None
        raise
    return TrainRunResult(cfg, res.checkpoint, changes)


@dataclass(frozen=True, kw_only=True)
class QuantizeOptions:
    """Quantization-aware fine-tuning of the float checkpoint ``init_from``: ``base`` (the
    float run's config) at ``bits`` weight and activation bits, ``epochs`` epochs at ``lr``,
    into ``out``."""

    base: TrainConfig
    init_from: str
    out: str
    bits: int = 8
    epochs: int = 1
    lr: float = 0.01
    precisions: str | None = None  # lower run-time precisions trained jointly ("4/4,2/2")

    def config(self) -> TrainConfig:
        return replace(self.base, wbits=self.bits, abits=self.bits, epochs=self.epochs,
                       lr=self.lr, warmup_epochs=0.0, init_from=self.init_from, out=self.out,
                       precisions=self.precisions)


def quantize(opts: QuantizeOptions, *, splits: DatasetSplits | None = None,
             resume: bool = False, log: Log | None = None) -> str | None:
    """The stage: train the quantized network; returns its checkpoint."""
    return train(opts.config(), splits=splits, resume=resume, log=log).checkpoint
