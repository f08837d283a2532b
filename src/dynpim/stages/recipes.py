"""The search recipes (``dynpim search --recipe``): the defaults they fill in, and the two
training steps the papers' pipeline adds around the search -- pre-training the full model
individually (``<out>/pretrained``) and retraining the dynamic network on the filtered configs
(``<out>/retrained``). Both are ``dynpim.train.train`` runs; only noise ranking from scratch
trains here (``dynpim.search.train_with_noise``)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from dynpim.train import TrainConfig, train, training_state

from .run import Log

if TYPE_CHECKING:
    from .search import SearchRunOptions

# Defaults per recipe for the options left unset on the command line.
RECIPES: dict[str, dict[str, Any]] = {
    "dynpim": {"ranking": "auto", "finetune_threshold": None, "finetune_optimizer": "sgd-momentum",
               "finetune_until": "steps", "filter": "pareto", "rescore": "trajectory",
               "retrain_epochs": 0},
    "papers": {"ranking": "l1", "finetune_threshold": 0.5, "finetune_optimizer": "sgd",
               "finetune_until": "recovered", "filter": "local", "rescore": "final",
               "retrain_epochs": None},
}


def pretrain(opts: SearchRunOptions, log: Log | None) -> str:
    """The papers' starting point: the full-width model trained individually (with trainable
    noise from scratch for ``ranking="noise"``). Returns its checkpoint path."""
    assert opts.model is not None and opts.dataset is not None
    assert opts.pretrain_epochs is not None
    out = os.path.join(opts.out, "pretrained")
    cfg = TrainConfig(model=opts.model, width_mult=opts.width_mult, dataset=opts.dataset,
                      data_dir=opts.data_dir, holdout=opts.holdout,
                      mode="individual", width=1.0, epochs=opts.pretrain_epochs,
                      lr=opts.train_lr, batch_size=opts.batch_size, seed=opts.seed,
                      out=out, device=opts.device, progress=False, eval_widths=(1.0,),
                      channels_last=opts.channels_last)
    state = training_state(os.path.join(out, "checkpoint"))
    if state == "finished":
        if log:
            log(f"using the pre-trained model in {out}")
        return os.path.join(out, "checkpoint")
    if opts.ranking != "noise":
        if state == "partial" and log:  # killed with its session: continue, do not use it
            log(f"resuming the pre-training in {out}")
        res = train(cfg, log=log, resume=state == "partial")
        assert res.checkpoint is not None
        return res.checkpoint
    return _pretrain_with_noise(opts, cfg, out, log)


def _pretrain_with_noise(opts: SearchRunOptions, cfg: TrainConfig, out: str,
                         log: Log | None) -> str:
    """The whole pre-training with trainable noise from scratch (TNNLS'22); in NHWC memory format
    with ``opts.channels_last`` (faster CPU convolutions), the checkpoint saved contiguous."""
    import torch

    from dynpim.data import augment_for, iterate_batches, load_dataset
    from dynpim.search import train_with_noise
    from dynpim.train import build_model, save_checkpoint
    from dynpim.train.trainer import seed_everything

    assert opts.dataset is not None and opts.pretrain_epochs is not None
    seed_everything(opts.seed)
    splits = load_dataset(opts.dataset, data_dir=opts.data_dir, split_seed=cfg.split_seed,
                          holdout=cfg.holdout).to(opts.device)
    model = build_model(cfg, splits).to(opts.device)
    aug = augment_for(splits)
    nhwc = opts.channels_last and splits.train_x.dim() == 4
    if nhwc:
        model.to(memory_format=torch.channels_last)

    def batches(epoch: int) -> Any:
        gen = torch.Generator().manual_seed(opts.seed * 7919 + epoch)
        for x, y in iterate_batches(splits.train_x, splits.train_y, opts.batch_size,
                                    shuffle=True, generator=gen, augment=aug, drop_last=True):
            yield (x.contiguous(memory_format=torch.channels_last) if nhwc else x), y

    scores = train_with_noise(model, batches, epochs=opts.pretrain_epochs, lr=opts.train_lr,
                              cosine=True, log=log)
    if nhwc:  # the usual layout in the checkpoint (export, PIM mapping, numpy)
        model.to(memory_format=torch.contiguous_format)
    path = os.path.join(out, "checkpoint")
    tc = asdict(cfg)
    tc["holdout"] = len(splits.holdout_y)
    save_checkpoint(path, model, extra={"train_config": tc, "finished": True, "noise_scores": {
        k: v.tolist() for k, v in scores.items()}})
    return path


def retrain(opts: SearchRunOptions, tc: dict[str, Any], model: Any, chosen_path: str,
            log: Log | None) -> str:
    """The papers' last step: the dynamic network trained from scratch (sandwich rule) on the
    filtered configs, into ``<out>/retrained``. Returns its checkpoint path."""
    done = os.path.join(opts.out, "retrained", "checkpoint")
    state = training_state(done) if opts.resume else "none"
    if state == "finished":
        if log:
            log(f"using the retrained network in {done}")
        return done
    assert opts.retrain_epochs is not None
    margs = model.args
    cfg = TrainConfig(model=model.name, width_mult=margs.get("width_mult", 1.0),
                      wbits=margs.get("wbits", 32), abits=margs.get("abits", 32),
                      dataset=opts.dataset or tc.get("dataset"),
                      data_dir=opts.data_dir or tc.get("data_dir"), holdout=tc.get("holdout"),
                      split_seed=tc.get("split_seed", 0), mode="dynamic", sampling="nonuniform",
                      configs=os.path.abspath(chosen_path), epochs=opts.retrain_epochs,
                      lr=opts.train_lr, batch_size=opts.batch_size, seed=opts.seed,
                      calib_batches=min(50, max(opts.calib_batches, 10)),
                      out=os.path.join(opts.out, "retrained"), device=opts.device,
                      progress=False, channels_last=opts.channels_last)
    if log:
        log(f"retraining the dynamic {model.name} on the {opts.filter}-filtered configs for "
            f"{opts.retrain_epochs} epoch(s)")
    res = train(cfg, log=log, resume=state == "partial")  # partial: killed with its session
    assert res.checkpoint is not None
    return res.checkpoint
