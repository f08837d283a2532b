"""The training loop: sandwich rule with in-place distillation and/or hard labels for the
smaller sub-nets (``dynamic``) or one fixed config (``individual``), per-step cosine schedule,
checkpoints, resume, data parallelism."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from dynpim.data import DatasetSplits, augment_for, iterate_batches, load_dataset, num_batches
from dynpim.nn import DynamicNet, SubnetConfig, load_configs, set_sync_batchnorm
from dynpim.nn.precision import bank_key, parse_precisions

from .checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from .config import TrainConfig
from .distributed import DistContext
from .evaluate import (
    calibration_batches,
    evaluate_configs,
    format_table,
    table_heading,
    write_table,
)
from .losses import hard_cross_entropy, soft_cross_entropy
from .optim import build_optimizer, lr_at, set_lr
from .provenance import environment, preprocessing, write_env
from .samplers import (
    FixedSampler,
    ListSampler,
    Sampler,
    UniformSampler,
    sandwich,
    step_generator,
    step_passes,
)

Hook = Callable[["Trainer", dict[str, Any]], None]
Log = Callable[[str], None]


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is left untouched."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(cfg: TrainConfig, splits: DatasetSplits) -> DynamicNet:
    from dynpim.models import create_model

    c, h, _ = splits.input_size
    extra: dict[str, Any] = {}
    if cfg.precisions:
        extra["precisions"] = parse_precisions(cfg.precisions)
        if cfg.bn_per_precision:
            extra["bn_per_precision"] = True
    return create_model(cfg.model, num_classes=splits.num_classes, in_channels=c,
                        image_size=h, width_mult=cfg.width_mult, wbits=cfg.wbits, abits=cfg.abits,
                        **extra)


def _configs_file(cfg: TrainConfig) -> str:
    """``cfg.configs``, which :meth:`TrainConfig.validate` requires wherever it is read."""
    if not cfg.configs:
        raise ValueError(f"mode {cfg.mode!r} / sampling {cfg.sampling!r} needs configs "
                         "(a JSON file)")
    return cfg.configs


def build_sampler(cfg: TrainConfig, model: DynamicNet) -> Sampler:
    """Sampler for ``cfg``; ``individual`` mode and ``fixed`` sampling train one config."""
    if cfg.mode == "individual" or cfg.sampling == "fixed":
        if cfg.width is not None:
            return FixedSampler(model, SubnetConfig.uniform(model, cfg.width))
        cfgs = load_configs(_configs_file(cfg))
        if len(cfgs) != 1:
            raise ValueError(f"{cfg.configs}: individual/fixed training needs exactly one "
                             f"config, the file has {len(cfgs)}")
        return FixedSampler(model, cfgs[0])
    if cfg.sampling == "nonuniform":
        return ListSampler(model, load_configs(_configs_file(cfg)))
    if cfg.sampling == "discrete":  # switchable widths, as in Slimmable Networks
        return ListSampler(model, [SubnetConfig.uniform(model, w) for w in cfg.train_widths])
    return UniformSampler(model, cfg.min_width, cfg.max_width)


@dataclass
class TrainResult:
    model: DynamicNet
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    stopped_early: bool = False


class Trainer:
    """Train ``cfg``; ``model``/``splits`` may be given (tests, notebooks), else they are built
    from the config. ``hooks`` run after every optimizer step with that step's numbers."""

    def __init__(self, cfg: TrainConfig, *, model: DynamicNet | None = None,
                 splits: DatasetSplits | None = None, hooks: Sequence[Hook] = (),
                 log: Log | None = None) -> None:
        self.cfg = cfg
        self.log = log
        self.dist = DistContext.from_env(cfg.device)
        self.device = self.dist.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        self.hooks = list(hooks)
        seed_everything(cfg.seed)
        if splits is None:
            splits = load_dataset(cfg.dataset, data_dir=cfg.data_dir, split_seed=cfg.split_seed,
                                  holdout=cfg.holdout)
        self.splits = splits.to(self.device)
        self.model = (model if model is not None else build_model(cfg, splits)).to(self.device)
        self.model.preprocessing = preprocessing(splits.mean, splits.std, cfg.dataset)
        if cfg.init_from:  # QAT from a float checkpoint (quantizer ranges start from data)
            from dynpim.quant import load_float_weights
            load_float_weights(self.model,
                               load_checkpoint(cfg.init_from).model.weights_state_dict())
        if cfg.channels_last:
            # torch's Module.to overloads omit memory_format, which it accepts at run time
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if cfg.sync_bn and self.dist.enabled:
            set_sync_batchnorm(self.model)
        self.sampler = build_sampler(cfg, self.model)
        self.single = cfg.mode == "individual" or cfg.sampling == "fixed"
        self.optimizer = build_optimizer(self.model, cfg)
        n_train = len(self.splits.train_y)
        if n_train < cfg.batch_size:
            raise ValueError(f"batch_size {cfg.batch_size} is larger than the training split "
                             f"({n_train} samples)")
        self.steps_per_epoch = num_batches(n_train, cfg.batch_size, drop_last=True)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.warmup_steps = int(round(cfg.warmup_epochs * self.steps_per_epoch))
        self.step, self.resumed = 0, False
        self.history: list[dict[str, Any]] = []
        self.augment = augment_for(splits) if cfg.augment else None
        self.net = self.dist.wrap(self.model, self.device)  # DDP under torchrun
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp or "")
        # fp16 needs loss scaling (its exponent range is small); bf16 does not
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.amp == "fp16" else None

    # -- state ------------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @property
    def shard(self) -> tuple[int, int]:
        """This process's share of every evaluation: (rank, world size)."""
        return self.dist.rank, self.dist.world_size

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.cfg.out, "checkpoint")

    def eval_configs(self) -> list[SubnetConfig]:
        if isinstance(self.sampler, UniformSampler):
            return sorted({SubnetConfig.uniform(self.model, w) for w in self.cfg.eval_widths},
                          key=lambda c: self.model.macs(c))
        return self.sampler.eval_configs()

    def resume(self, path: str | None = None) -> None:
        """Continue from a checkpoint (default: this run's) exactly where it stopped."""
        ck = load_checkpoint(path or self.checkpoint_dir, self.model, optimizer=self.optimizer,
                             map_location=self.device)
        saved = ck.meta.get("train_config", {})
        for k in ("model", "dataset", "mode", "sampling", "batch_size", "epochs", "seed"):
            if k in saved and saved[k] != getattr(self.cfg, k):
                raise ValueError(f"cannot resume: checkpoint has {k}={saved[k]!r}, this run has "
                                 f"{k}={getattr(self.cfg, k)!r}")
        self.step, self.resumed = ck.step, True
        self.history = list(ck.meta.get("history", []))
        set_rng_state(ck.meta["rng"])
        if self.dist.is_main:  # lines written after that checkpoint are dropped
            self.write_metrics()

    def write_metrics(self, final: dict[str, Any] | None = None) -> None:
        """Rewrite ``metrics.jsonl`` (atomically) from the history the checkpoint holds: one
        line per finished epoch, then the final line — whatever crashes came before."""
        os.makedirs(self.cfg.out, exist_ok=True)
        path = os.path.join(self.cfg.out, "metrics.jsonl")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            for rec in self.history + ([final] if final else []):
                f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        write_metrics_csv(self.history, os.path.join(self.cfg.out, "metrics.csv"))

    def tensorboard(self, rec: dict[str, Any]) -> None:
        """Epoch scalars to ``<out>/tensorboard`` when the optional ``tensorboard`` package is
        installed (``pip install dynpim[tensorboard]``); nothing otherwise."""
        if not hasattr(self, "_tb"):
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the extra is not installed: CSV and JSONL only
                self._tb = None
            else:
                self._tb = SummaryWriter(os.path.join(self.cfg.out, "tensorboard"))
        if self._tb is None:
            return
        step = rec["step"]
        for k in ("lr", "train_loss", "train_acc", "time_s"):
            self._tb.add_scalar(f"train/{k}", rec[k], step)
        for cfg_key, v in (rec.get("val_top1") or {}).items():
            self._tb.add_scalar(f"val_top1/{cfg_key}", v, step)
        self._tb.flush()

    def save(self, extra: dict[str, Any] | None = None) -> str | None:
        if not self.dist.is_main:
            return None
        return save_checkpoint(self.checkpoint_dir, self.model, optimizer=self.optimizer,
                               configs=self.eval_configs(), extra={
                                   "epoch": self.epoch, "step": self.step,
                                   "train_config": self.cfg.to_dict(),
                                   "preprocessing": self.model.preprocessing,
                                   "history": self.history, **(extra or {})})

    # -- one step ---------------------------------------------------------------------------------
    def train_step(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Sandwich rule (or one config), summed gradients, one optimizer step."""
        model, cfg = self.model, self.cfg
        set_lr(self.optimizer, lr_at(self.step, self.total_steps, cfg.lr, self.warmup_steps))
        self.optimizer.zero_grad(set_to_none=True)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        g = step_generator(cfg.seed, self.step)
        configs = [self.sampler.largest()] if self.single else sandwich(
            self.sampler, cfg.num_random, g)
        passes = step_passes(configs, model.precisions[1:], g, cfg.lower_weight)
        last = len(passes) - 1
        first = passes[0]
        with model.subnet(first.config, bits=first.bits), self._accumulate(last > 0):
            with self._autocast():
                logits = self.net(x).float()
            loss = hard_cross_entropy(logits, y, cfg.label_smoothing)
            self._backward(first.weight * loss)
        teacher = F.softmax(logits.detach(), dim=1)
        previous = logits
        for i, p in enumerate(passes[1:], 1):
            with model.subnet(p.config, bits=p.bits), self._accumulate(i < last):
                with self._autocast():
                    out = self.net(x).float()
                sub: Tensor | float = 0.0
                if cfg.subnet_loss in ("distill", "both"):
                    target = F.softmax(previous.detach(), dim=1) if p.from_previous else teacher
                    sub = sub + soft_cross_entropy(out, target)
                if cfg.subnet_loss in ("labels", "both"):
                    sub = sub + hard_cross_entropy(out, y, cfg.label_smoothing)
                if not isinstance(sub, Tensor):  # TrainConfig.validate rules this out
                    raise ValueError(f"subnet_loss must be one of distill, labels, both, got "
                                     f"{cfg.subnet_loss!r}")
                self._backward(p.weight * sub)
            previous = out
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.step += 1
        acc = (logits.detach().argmax(1) == y).float().mean()
        return {"loss": loss.detach(), "acc": acc}

    def _autocast(self):
        """``torch.autocast`` at ``--amp``'s dtype (convs and matmuls in half precision, losses
        in float32); a no-op without ``--amp``."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _accumulate(self, local: bool):
        """``ddp.no_sync()`` for a backward pass whose gradients only accumulate (every
        sub-net of a sandwich step but the last); a no-op otherwise."""
        if local and isinstance(self.net, DistributedDataParallel):  # else self.net is the model
            return self.net.no_sync()
        return contextlib.nullcontext()

    def _check_finite(self, loss: Tensor) -> None:
        if not self.dist.all_true(bool(torch.isfinite(loss))):
            raise TrainingDiverged(
                f"loss became {float(loss)} at step {self.step} (epoch {self.epoch + 1}); stopped "
                f"and kept the last good checkpoint in {self.checkpoint_dir} — lower --lr or add "
                f"--warmup-epochs")

    # -- the loop ---------------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Validation top-1 per eval config (BN calibrated on training batches), keyed by
        config; with ``--val-precisions`` also at each of those, keyed ``<config>-w<W>a<A>``."""
        if len(self.splits.holdout_y) == 0:
            return {}
        calib = calibration_batches(self.splits, batch_size=self.cfg.batch_size,
                                    num_batches=self.cfg.calib_batches)
        out = {}
        extra = parse_precisions(self.cfg.val_precisions) if self.cfg.val_precisions else []
        for bits in [None, *extra]:
            with self.model.precision(bits) if bits else contextlib.nullcontext():
                rows = evaluate_configs(self.model, self.eval_configs(), self.splits, calib,
                                        split="validation", shard=self.shard)
            out.update({bank_key(r["config"], bits): r["top1_validation"] for r in rows})
        return out

    def run(self) -> TrainResult:
        cfg, main = self.cfg, self.dist.is_main
        if main:
            os.makedirs(cfg.out, exist_ok=True)
            cfg.save(os.path.join(cfg.out, "config.yaml"))
            write_env(os.path.join(cfg.out, "env.json"),
                      {**environment(cfg.seed), "world_size": self.dist.world_size,
                       "device": str(self.device)}, start_step=self.step,
                      resumed=self.resumed)
        check_every = 1 if self.device.type == "cpu" else 25
        stopped = False
        while self.step < self.total_steps and not stopped:
            epoch, start = self.epoch, self.step % self.steps_per_epoch
            g = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
            batches = iterate_batches(
                self.splits.train_x, self.splits.train_y, cfg.batch_size, shuffle=True,
                generator=g, augment=self.augment, drop_last=True, rank=self.dist.rank,
                world_size=self.dist.world_size, start_batch=start)
            bar = _progress(batches, self.steps_per_epoch, start, epoch, cfg, main)
            t0, loss_sum, acc_sum, n = time.perf_counter(), 0.0, 0.0, 0
            for x, y in bar:
                out = self.train_step(x, y)
                if self.step % check_every == 0 or self.step % self.steps_per_epoch == 0:
                    self._check_finite(out["loss"])
                    loss_sum += float(out["loss"])
                    acc_sum += float(out["acc"])
                    n += 1
                    if hasattr(bar, "set_postfix"):
                        bar.set_postfix(loss=f"{loss_sum / n:.3f}",
                                        acc=f"{100 * acc_sum / n:.1f}%")
                for h in self.hooks:
                    h(self, {"step": self.step, "epoch": epoch, **out})
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    stopped = True
                    break
                # at the end of an epoch the save after its record (below) is the checkpoint:
                # one saved here would lack that record, and a crash during validation would
                # then lose the epoch's line from metrics.jsonl for good
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 \
                        and self.step % self.steps_per_epoch:
                    self.save()
            if hasattr(bar, "close"):
                bar.close()
            if stopped and self.step % self.steps_per_epoch:
                self.save()
                break
            rec = {"epoch": epoch + 1, "step": self.step,
                   "lr": lr_at(self.step - 1, self.total_steps, cfg.lr, self.warmup_steps),
                   "train_loss": loss_sum / max(n, 1), "train_acc": 100 * acc_sum / max(n, 1),
                   "time_s": round(time.perf_counter() - t0, 3), "val_top1": self.validate()}
            self.history.append(rec)
            self.save()
            if main:
                self.write_metrics()
                self.tensorboard(rec)
                if self.log:
                    self.log(epoch_line(rec, cfg.epochs))
        result = TrainResult(self.model, self.history, stopped_early=stopped,
                             checkpoint=self.checkpoint_dir if main else None)
        if not stopped:
            result.final = self.finish()
        return result

    def finish(self) -> dict[str, Any]:
        """Calibrate BN for every eval config, store the banks, report test accuracy."""
        calib = calibration_batches(self.splits, batch_size=self.cfg.batch_size,
                                    num_batches=self.cfg.calib_batches)
        self.model.clear_bn_bank()
        rows = evaluate_configs(self.model, self.eval_configs(), self.splits, calib, split="test",
                                shard=self.shard)
        final = {"final": True, "epoch": self.epoch, "step": self.step, "test": rows}
        if self.dist.is_main:
            write_table(rows, os.path.join(self.cfg.out, "eval"))
            self.save({"test": rows})
            self.write_metrics(final)
            if self.log:
                self.log(table_heading(self.model, self.cfg.dataset, "test"))
                self.log(format_table(rows))
            elif self.cfg.progress:
                print(format_table(rows))
        return final


def write_metrics_csv(history: list[dict[str, Any]], path: str) -> None:
    """One row per finished epoch: epoch, step, lr, loss, training accuracy (%), time and the
    validation top-1 (%) of every eval config (one ``val_top1[<config>]`` column each)."""
    import csv

    base = ["epoch", "step", "lr", "train_loss", "train_acc", "time_s"]
    val_cols = list(dict.fromkeys(k for rec in history for k in (rec.get("val_top1") or {})))
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(base + [f"val_top1[{k}]" for k in val_cols])
        for rec in history:
            val = rec.get("val_top1") or {}
            w.writerow([rec.get(k, "") for k in base] + [val.get(k, "") for k in val_cols])
    os.replace(tmp, path)


def epoch_line(rec: dict[str, Any], epochs: int) -> str:
    """One line per epoch: loss, training accuracy, validation top-1 per eval config, time."""
    val = rec.get("val_top1") or {}
    line = (f"epoch {rec['epoch']}/{epochs}  step {rec['step']}  lr {rec['lr']:.4g}  "
            f"loss {rec['train_loss']:.3f}  train acc {rec['train_acc']:.1f} %")
    if val:
        by_bits: dict[str, list[float]] = {}
        for key, v in val.items():  # "<config>" or "<config>-w<W>a<A>" (--val-precisions)
            tail = key.rpartition("-")[2]
            by_bits.setdefault(tail if tail.startswith("w") else "", []).append(v)
        line += "  validation top-1 (%) " + "  ".join(
            (f"at {b[1:].replace('a', '/')}: " if b else "") + " / ".join(f"{v:.1f}" for v in vs)
            for b, vs in by_bits.items())
    return line + f"  {rec['time_s']:.1f} s"


def _is_terminal() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


def _progress(batches, total: int, start: int, epoch: int, cfg: TrainConfig, main: bool):
    """tqdm bars only when asked for and both stdout and stderr are a terminal (no bar lines
    in logs)."""
    if not (cfg.progress and main and _is_terminal()):
        return batches
    from tqdm import tqdm

    return tqdm(batches, total=total, initial=start, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                leave=False, dynamic_ncols=True)


def train(cfg: TrainConfig, *, model: DynamicNet | None = None,
          splits: DatasetSplits | None = None, resume: bool | str = False,
          hooks: Sequence[Hook] = (), log: Log | None = None) -> TrainResult:
    """Run one training (optionally resuming from ``resume``: True = this run's checkpoint).

    ``log``: called (on the main process) with a one-line summary after every epoch and with
    the final accuracy table; ``dynpim train`` passes ``print``."""
    trainer = Trainer(cfg, model=model, splits=splits, hooks=hooks, log=log)
    try:
        if resume:
            trainer.resume(resume if isinstance(resume, str) else None)
        return trainer.run()
    finally:
        # drop the DDP wrapper (its reducer holds the process group) before leaving the group,
        # so the group is not freed only at interpreter exit (see DistContext.close)
        trainer.net = trainer.model
        gc.collect()
        trainer.dist.close()
        if cfg.channels_last:  # hand back the usual layout (export, PIM mapping, numpy)
            # (Module.to takes memory_format at run time; torch's overloads omit it)
            trainer.model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]


__all__ = ["TrainResult", "Trainer", "TrainingDiverged", "build_model", "build_sampler",
           "seed_everything", "train"]
