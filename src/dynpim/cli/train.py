"""``dynpim train``: train a dynamic network (sandwich rule) or one sub-net (baseline).

Options come from the defaults, then ``--config run.yaml``, then the command line.
``torchrun --nproc_per_node=K -m dynpim train ...`` trains data-parallel. The work is the
``train`` stage (``dynpim.stages.train``).
"""

from __future__ import annotations

import argparse

from dynpim.cli import widths_list
from dynpim.train.config import TrainConfig


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


OPTION_KEYS = tuple(f for f in TrainConfig.__dataclass_fields__)


def requested_options(args: argparse.Namespace) -> dict:
    """The options the user gave: ``--config`` file entries, then command-line options."""
    from dynpim.train.config import read_options

    given = {k: getattr(args, k) for k in OPTION_KEYS
             if getattr(args, k, None) is not None}
    return {**(read_options(args.config) if args.config else {}), **given}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig.from_dict(requested_options(args))


def run(args: argparse.Namespace) -> int:
    from dynpim.stages.train import TrainRunOptions, train_run

    opts = TrainRunOptions(requested=requested_options(args), resume=args.resume,
                           override=tuple(args.override), overwrite=args.overwrite,
                           threads=args.threads)
    res = train_run(opts, log=lambda line: print(line, flush=True))
    if res.checkpoint:
        print(f"checkpoint: {res.checkpoint}")
    return 0
