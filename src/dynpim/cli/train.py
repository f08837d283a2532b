"""``dynpim train``: train a dynamic network (sandwich rule) or one sub-net (baseline).

Options come from the defaults, then ``--config run.yaml``, then the command line.
``torchrun --nproc_per_node=K -m dynpim train ...`` trains data-parallel.
"""

from __future__ import annotations

import argparse

from dynpim.train import TrainConfig


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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a dynamic network or one sub-net",
                       description="Train with the sandwich rule and in-place distillation "
                       "(--mode dynamic) or one fixed sub-net (--mode individual). Every option "
                       "may also come from --config run.yaml; the command line wins.")
    a = p.add_argument
    a("--config", metavar="YAML", help="YAML/JSON file with any of these options")
    a("--model", help="registered model (see `dynpim models`), default lenet")
    a("--width-mult", type=float, help="scale every layer of the model at build time")
    a("--wbits", type=int, help="weight bits 1..8 (quantization-aware training), 32 = float")
    a("--abits", type=int, help="activation bits 1..8, 32 = float (default)")
    a("--init-from", metavar="CHECKPOINT", help="start from a (float) checkpoint's weights")
    a("--dataset", help="fashion-mnist | cifar10 | digits | synthetic | tensors (default digits)")
    a("--data-dir", help="folder with the dataset files")
    a("--holdout", type=int, help="training samples held out for search/calibration")
    a("--mode", choices=("dynamic", "individual"))
    a("--sampling", choices=("uniform", "discrete", "nonuniform", "fixed"),
      help="uniform: ratio ~ U[min, max]; discrete: only --train-widths; nonuniform: --configs")
    a("--configs", metavar="JSON", help="configs to sample (nonuniform) or the one to train")
    a("--width", type=float, help="uniform width ratio of the fixed/individual sub-net")
    a("--min-width", type=float, help="smallest uniform ratio (default 0.25)")
    a("--max-width", type=float, help="largest uniform ratio (default 1.0)")
    a("--train-widths", type=widths_list,
      help="uniform ratios trained by --sampling discrete (default 0.25,0.5,0.75,1)")
    a("--num-random", type=int, help="random sub-nets per batch (default 2)")
    a("--subnet-loss", choices=("distill", "labels", "both"),
      help="loss of the sub-nets other than the largest: in-place distillation from the "
      "largest (default), hard labels, or both summed")
    a("--epochs", type=int)
    a("--batch-size", type=int, help="global batch size (all processes)")
    a("--lr", type=float, help="peak learning rate (default 0.1)")
    a("--momentum", type=float)
    a("--no-nesterov", dest="nesterov", action="store_const", const=False)
    a("--weight-decay", type=float, help="conv/linear weights only (default 5e-4)")
    a("--warmup-epochs", type=float)
    a("--label-smoothing", type=float)
    a("--no-augment", dest="augment", action="store_const", const=False)
    a("--seed", type=int)
    a("--split-seed", type=int)
    a("--eval-widths", type=widths_list, help="uniform ratios evaluated (default 0.25,...,1)")
    a("--calib-batches", type=int, help="training batches per BN calibration (default 50)")
    a("--checkpoint-every", type=int, help="also checkpoint every N steps")
    a("--max-steps", type=int, help="stop after N optimizer steps (smoke tests)")
    a("--out", help="run directory (default runs/run)")
    a("--device", help="cpu | cuda | cuda:N")
    a("--sync-bn", action="store_const", const=True,
      help="with torchrun: BN statistics over the global batch (SyncBatchNorm)")
    a("--channels-last", action="store_const", const=True,
      help="NHWC memory format (1.4-1.7x faster 1-thread ResNet-20 steps on an x86 CPU)")
    a("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
      help="continue from the run's checkpoint (or the given one)")
    a("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice, "
      "usually one per core); 1 is often faster on a machine shared with other jobs")
    a("--no-progress", dest="progress", action="store_const", const=False,
      help="no progress bars (bars are only drawn on a terminal anyway); the per-epoch lines "
      "and the final accuracy table are still printed")
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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    given = {k: getattr(args, k) for k in OPTION_KEYS
             if getattr(args, k, None) is not None}
    if args.config:
        return TrainConfig.from_file(args.config, **given)
    return TrainConfig.from_dict(given)


def run(args: argparse.Namespace) -> int:
    from dynpim.models import list_models
    from dynpim.train import train

    cfg = config_from_args(args)
    if cfg.model not in list_models():
        raise ValueError(f"unknown model {cfg.model!r}; available: {', '.join(list_models())}")
    set_threads(args.threads)
    res = train(cfg, resume=args.resume, log=lambda line: print(line, flush=True))
    if res.checkpoint:
        print(f"checkpoint: {res.checkpoint}")
    return 0
