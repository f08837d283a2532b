"""``dynpim train``: train a dynamic network (sandwich rule) or one sub-net (baseline).

Options come from the defaults, then ``--config run.yaml``, then the command line.
``torchrun --nproc_per_node=K -m dynpim train ...`` trains data-parallel.
"""

from __future__ import annotations

import argparse
import os

from dynpim.train.config import TrainConfig


def widths_list(text: str) -> tuple[float, ...]:
    """``"0.25,0.5,1"`` -> ``(0.25, 0.5, 1.0)`` (argparse type)."""
    try:
        out = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None
    if not out or not all(0 < w <= 1 for w in out):
        raise argparse.ArgumentTypeError(f"widths must be numbers in (0, 1], got {text!r}")
    return out


def names_list(text: str) -> tuple[str, ...]:
    """``"lr,weight-decay"`` -> ``("lr", "weight_decay")`` (argparse type)."""
    return tuple(v.strip().lstrip("-").replace("-", "_") for v in text.split(",") if v.strip())


def _choices() -> dict[str, tuple[str, ...]]:
    from dynpim.train.config import AMP_DTYPES, MODES, SAMPLINGS, SUBNET_LOSSES

    return {"mode": MODES, "sampling": SAMPLINGS, "subnet_loss": SUBNET_LOSSES,
            "amp": AMP_DTYPES}


def add_config_options(p: argparse.ArgumentParser) -> None:
    """One option per ``TrainConfig`` field, generated from the dataclass (type, choices,
    help from ``config.HELP`` and the field's default). Every option defaults to None, so the
    options the user gave can be told from the defaults (``--config`` files sit between)."""
    import dataclasses
    import typing

    from dynpim.train.config import HELP

    hints = typing.get_type_hints(TrainConfig)
    choices = _choices()
    for f in dataclasses.fields(TrainConfig):
        flag, typ, default = "--" + f.name.replace("_", "-"), hints[f.name], f.default
        shown = (",".join(f"{w:g}" for w in default) if isinstance(default, tuple)
                 else "none" if default is None else default)
        help_ = HELP[f.name] if "(default:" in HELP[f.name] else \
            f"{HELP[f.name]} (default: {shown})"
        if typ is bool:
            if default:
                p.add_argument(f"--no-{f.name.replace('_', '-')}", dest=f.name,
                               action="store_const", const=False,
                               help=f"turn off: {HELP[f.name]} (default: on)")
            else:
                p.add_argument(flag, action="store_const", const=True,
                               help=f"{HELP[f.name]} (default: off)")
            continue
        base = next((t for t in typing.get_args(typ) if t is not type(None)), typ)
        kw: dict = {"help": help_}
        if typing.get_origin(typ) is tuple or typing.get_origin(base) is tuple:
            kw.update(type=widths_list, metavar="W1,W2,...")
        elif f.name in choices:
            kw["choices"] = choices[f.name]
        elif base in (int, float):
            kw["type"] = base
        p.add_argument(flag, **kw)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a dynamic network or one sub-net",
                       description="Train with the sandwich rule and in-place distillation "
                       "(--mode dynamic) or one fixed sub-net (--mode individual). Every option "
                       "may also come from --config run.yaml; the command line wins.")
    a = p.add_argument
    a("--config", metavar="YAML", help="YAML/JSON file with any of these options")
    add_config_options(p)
    a("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
      help="continue from the run's checkpoint (or the given one); options not given are "
      "taken from the checkpoint, and changing a hyper-parameter needs --override")
    a("--override", type=names_list, default=(), metavar="OPTION[,OPTION]",
      help="with --resume: hyper-parameters allowed to differ from the checkpoint's (recorded "
      "in the run's dynpim-run.json), e.g. --override lr,weight-decay")
    a("--overwrite", action="store_true",
      help="replace the train run already in --out (its checkpoint and metrics are deleted)")
    a("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice, "
      "usually one per core); 1 is often faster on a machine shared with other jobs")
    p.set_defaults(func=run)


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads`` for ``--threads`` (None: leave torch's default)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


OPTION_KEYS = tuple(f for f in TrainConfig.__dataclass_fields__)
# may differ on resume without --override: where and how the run runs, not what it learns
RESUME_FREE = ("out", "data_dir", "device", "progress", "checkpoint_every", "max_steps")
# can never change on resume (the checkpoint's tensors or step count depend on them)
RESUME_FIXED = ("model", "width_mult", "wbits", "abits", "precisions", "dataset", "holdout",
                "split_seed", "mode", "sampling", "batch_size", "epochs", "seed")
TRAIN_OUTPUTS = ("metrics.jsonl", "metrics.jsonl.tmp", "metrics.csv", "env.json", "eval.json",
                 "eval.csv", "config.yaml")


def requested_options(args: argparse.Namespace) -> dict:
    """The options the user gave: ``--config`` file entries, then command-line options."""
    from dynpim.train.config import read_options

    given = {k: getattr(args, k) for k in OPTION_KEYS
             if getattr(args, k, None) is not None}
    return {**(read_options(args.config) if args.config else {}), **given}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig.from_dict(requested_options(args))


def resumed_config(args: argparse.Namespace, saved: dict) -> tuple[TrainConfig, dict]:
    """The config of a resumed run: the checkpoint's ``saved`` options, with those the user
    gave on top. Returns it and the changed hyper-parameters ``{key: (old, new)}``; refuses
    (one line) a change that is neither free nor named in ``--override``."""
    from dynpim.errors import DynpimError

    requested = TrainConfig.from_dict(requested_options(args)).to_dict()
    given = set(requested_options(args))
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
    allowed = set(args.override)
    refused = sorted(k for k in changes if k not in allowed)
    if refused:
        shown = ", ".join(f"{k} {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
        raise DynpimError(f"cannot resume with changed hyper-parameters ({shown}); name each "
                          f"in --override (e.g. --override {','.join(refused)}) to accept it, "
                          f"or drop it")
    return cfg, changes


def _remove_train_outputs(out: str) -> None:
    """What a train run wrote into ``out`` (``--overwrite``): its checkpoint (and leftovers),
    metrics, eval table and config; nothing else."""
    import glob
    import shutil

    for d in [os.path.join(out, "checkpoint"), os.path.join(out, "checkpoint.old"),
              *glob.glob(os.path.join(glob.escape(out), "checkpoint.tmp-*")),
              *glob.glob(os.path.join(glob.escape(out), "checkpoint.trash-*"))]:
        shutil.rmtree(d, ignore_errors=True)
    for f in TRAIN_OUTPUTS:
        if os.path.isfile(os.path.join(out, f)):
            os.remove(os.path.join(out, f))


def check_init_from(cfg: TrainConfig) -> None:
    """``--init-from`` names a readable checkpoint of the same model (one-line errors)."""
    from dynpim.errors import CheckpointError
    from dynpim.train import read_meta

    meta = read_meta(cfg.init_from)
    name = meta["model"]["name"]
    if name != cfg.model:
        raise CheckpointError(f"--init-from {cfg.init_from}: holds a {name} model, this run "
                              f"trains {cfg.model}")


def run(args: argparse.Namespace) -> int:
    from dynpim.models import list_models
    from dynpim.rundir import check_run_dir, claim_run_dir, record_override
    from dynpim.train import read_meta, train

    cfg = config_from_args(args)
    if cfg.model not in list_models():
        raise ValueError(f"unknown model {cfg.model!r}; available: {', '.join(list_models())}")
    if args.override and not args.resume:
        raise ValueError("--override only applies with --resume")
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    # with torchrun every process runs this command: only the first owns the run directory
    main_process = os.environ.get("RANK", "0") == "0"
    info = check_run_dir(cfg.out, "train", resume=bool(args.resume),
                         overwrite=args.overwrite) if main_process else None
    changes: dict = {}
    if args.resume:
        src = args.resume if isinstance(args.resume, str) else cfg.out
        meta = read_meta(src)
        cfg, changes = resumed_config(args, meta.get("train_config") or {})
    if cfg.init_from:
        check_init_from(cfg)
    set_threads(args.threads)
    if info is not None and args.overwrite:
        _remove_train_outputs(cfg.out)
    if main_process:
        claim_run_dir(cfg.out, "train", cfg.to_dict(), resume=bool(args.resume),
                      overwrite=args.overwrite)
    if changes and main_process:
        record_override(cfg.out, changes, cfg.to_dict(), option="--override")
        print("resuming with overrides: " + ", ".join(
            f"{k} {o!r} -> {n!r}" for k, (o, n) in changes.items()))
    try:
        res = train(cfg, resume=args.resume, log=lambda line: print(line, flush=True))
    except ValueError as e:  # the weights of --init-from do not fit: name the file
        if cfg.init_from and str(e).startswith("float state does not fit"):
            from dynpim.errors import CheckpointError

            raise CheckpointError(f"--init-from {cfg.init_from}: {e}") from None
        raise
    if res.checkpoint:
        print(f"checkpoint: {res.checkpoint}")
    return 0
