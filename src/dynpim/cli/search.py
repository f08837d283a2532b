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

The work is the ``search`` stage (``dynpim.stages.search``; the recipes in
``dynpim.stages.recipes``).
"""

from __future__ import annotations

import argparse
import sys

from dynpim.defaults import DEFAULT_PRESET

# spelled here so that `dynpim --help` imports no torch; tests/search check them against
# dynpim.stages.recipes.RECIPES
RECIPE_NAMES = ("dynpim", "papers")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="progressive non-uniform sub-net search (hardware-aware)",
                       description="Greedy progressive search from the largest config: each step "
                       "removes the channel group that hurts held-out accuracy least (or, with "
                       "--objective accuracy-per-cost, costs least accuracy per saved PIM "
                       "energy/latency/MACs), then filters the trajectory to K configs.")
    p.add_argument("--recipe", choices=RECIPE_NAMES, default="dynpim",
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
    _search_options(p)
    _scoring_options(p)
    _filter_and_run_options(p)
    p.set_defaults(func=run)


def _search_options(p: argparse.ArgumentParser) -> None:
    """Ranking, objective, cost and granularity."""
    p.add_argument("--allow-dynamic-ranking", action="store_true",
                   help="allow --ranking l1/bn/noise on a checkpoint trained as a dynamic "
                   "network (reordering breaks the prefixes it was trained on)")
    p.add_argument("--objective", choices=("accuracy", "accuracy-per-cost"), default="accuracy")
    p.add_argument("--cost", choices=("energy", "latency", "macs"), default="energy",
                   help="cost of accuracy-per-cost and of filtering (default: energy)")
    p.add_argument("--preset", default=DEFAULT_PRESET, help="PIM hardware preset or YAML path")
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


def _scoring_options(p: argparse.ArgumentParser) -> None:
    """Held-out scoring, calibration and fine-tuning."""
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


def _filter_and_run_options(p: argparse.ArgumentParser) -> None:
    """Filtering, stopping, data and where/how the command runs."""
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
    p.add_argument("--channels-last", action="store_true",
                   help="NHWC memory format for the candidates' evaluation, the fine-tuning "
                   "and (papers recipe) the trainings: faster convolutions on x86 CPUs")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from dynpim.stages.search import SearchRunOptions, search

    opts = SearchRunOptions(**{k: v for k, v in vars(args).items()
                               if k not in ("func", "command", "debug")})

    def warn(msg: str) -> None:
        print(f"dynpim search: warning: {msg}", file=sys.stderr)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    search(opts, log=None if opts.quiet else log, warn=warn)
    return 0
