"""``dynpim eval``: calibrate BN per sub-net on training data and report test accuracy, MACs
and parameters as a table (printed, and written as JSON and CSV). The work is the ``evaluate``
stage (``dynpim.stages.evaluate``)."""

from __future__ import annotations

import argparse

from dynpim.cli import widths_list
from dynpim.defaults import DEFAULT_PRESET


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="accuracy / MACs / params of sub-nets of a checkpoint",
                       description="Evaluate sub-nets of a trained dynamic network. BN "
                       "statistics are calibrated per config on the training split (never the "
                       "test set) unless --use-bank is given, and stored in the checkpoint's BN "
                       "bank (unless --no-store).")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder or run directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--widths", type=widths_list, help="uniform ratios, e.g. 0.25,0.5,1")
    which.add_argument("--configs", metavar="JSON", help="JSON list of configs")
    which.add_argument("--all", action="store_true", help="the configs stored in the checkpoint "
                       "(what it was trained and evaluated at; the default when neither "
                       "--widths nor --configs is given)")
    p.add_argument("--dataset", help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--split", choices=("test", "validation", "holdout"), default="test",
                   help="split to report on (default test; 'holdout' is the old name of "
                   "validation); the JSON records it as accuracy_split")
    p.add_argument("--calib-batches", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--use-bank", action="store_true",
                   help="use the BN statistics banked in the checkpoint instead of calibrating")
    p.add_argument("--no-store", action="store_true",
                   help="do not write the calibrated BN statistics back into the checkpoint")
    p.add_argument("--out", help="write <out>.json and <out>.csv (default: <checkpoint>/eval)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: "
                   "torch's choice); 1 is often faster on a machine shared with other jobs")
    p.add_argument("--pim", action="store_true", help="also execute each config on the bit-wise "
                   "PIM engine (quantized checkpoints) and show the cost-model figures")
    p.add_argument("--preset", default=DEFAULT_PRESET, help="PIM hardware preset for --pim")
    p.add_argument("--flip-prob", type=float, default=0.0, help="sensing bit-flip probability")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dynpim.pim.execute import format_pim_table
    from dynpim.stages.evaluate import EvalOptions, evaluate
    from dynpim.train import format_table, table_heading

    opts = EvalOptions(**{k: v for k, v in vars(args).items()
                          if k not in ("func", "command", "debug", "all")})
    res = evaluate(opts)
    print(table_heading(res.model, res.dataset, opts.split))
    print(format_table(res.rows))
    if res.stored is not None:
        print(f"stored the BN statistics of {len(res.rows)} config(s) in {res.stored} (bn_bank)")
    elif res.store_error is not None:
        print(f"warning: could not store the BN statistics in {res.checkpoint}: "
              f"{res.store_error}")
    if res.pim_rows is not None:
        print(f"PIM execution, preset {opts.preset}, sensing flip probability "
              f"{opts.flip_prob:g}; latency, energy and average power per image (batch 1)")
        print(format_pim_table(res.pim_rows))
    jp, cp = res.written
    print(f"wrote {jp} and {cp}")
    return 0
