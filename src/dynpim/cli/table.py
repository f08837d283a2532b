"""``dynpim table``: build the operating table (schema ``dynpim.operating_table/1``) from a
trained checkpoint and a set of configs, for the run-time controller (``dynpim runtime``).

Besides the table JSON it writes a checkpoint (``<out stem>.model/``) holding the weights and
the BN statistics calibrated for every table config, which ``DynamicRuntime`` needs. The work is
the ``table`` stage (``dynpim.stages.table``, whose docstring walks it file by file).

The table *selects* (Pareto filter, then the controller's choices), so its accuracy is on the
validation split (carved from the training data, stored with the run); ``--split test`` is
refused. Each point also carries its test accuracy for reporting (``--no-test-accuracy`` skips).

``--hardware measured:cpu --latency FILE`` (from ``dynpim latency``) builds the table from
measured latencies instead of the PIM model: one point per (config, CPU thread count), the
thread count in the ``active_subarrays`` field, energy = ``--power-w`` x latency (0 unless a
power is assumed; the table's ``power_model`` says so).
"""

from __future__ import annotations

import argparse

from dynpim.cli import int_list
from dynpim.defaults import DEFAULT_PRESET


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="operating table: accuracy and PIM cost per config/level",
                       description="Evaluate every config (BN calibrated on training data), "
                       "model PIM latency, energy and power at each active-sub-array level, keep "
                       "the Pareto set over (accuracy, latency, power, energy) and write JSON.")
    p.add_argument("--checkpoint", required=True, help="trained checkpoint folder or run dir")
    p.add_argument("--configs", help="JSON configs (e.g. chosen.json from dynpim search); "
                   "default: the configs stored in the checkpoint")
    p.add_argument("--hardware", default="pim", help="pim (modelled, --preset; default) or "
                   "measured:cpu / measured:cuda (from --latency, written by dynpim latency)")
    p.add_argument("--latency", metavar="JSON", help="measured latencies (dynpim latency) "
                   "for --hardware measured:*")
    p.add_argument("--power-w", type=float, default=0.0,
                   help="measured:* only: assumed average power while computing, W (energy = "
                   "power x latency); default 0 = power not modelled")
    p.add_argument("--preset", default=DEFAULT_PRESET, help="PIM hardware preset or YAML path")
    p.add_argument("--active-levels", type=int_list("level"),
                   help="active computational sub-array counts, e.g. 8,32,128,512 (default: "
                   "all, 1/4, 1/16, 1/64, 1/256 of the chip)")
    p.add_argument("--split", choices=("validation", "holdout", "test"), default="validation",
                   help="split the selecting accuracy is measured on: validation (default; "
                   "'holdout' is its old name); test is refused, it is for reporting only")
    p.add_argument("--no-test-accuracy", action="store_true",
                   help="do not attach each point's test accuracy (reporting only)")
    p.add_argument("--calib-batches", type=int, default=50)
    p.add_argument("--calib-batch-size", type=int, default=128)
    p.add_argument("--all-points", action="store_true", help="keep dominated points too")
    p.add_argument("--precisions", default="all",
                   help="run-time precisions to include: all (every one the model was trained "
                   "with, see dynpim train --precisions), stored, or wbits/abits pairs like "
                   "8/8,4/4 (default: %(default)s)")
    p.add_argument("--dataset")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="table JSON path (its model checkpoint goes "
                   "beside it, <stem>.model/)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out table and its <stem>.model checkpoint")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dynpim.stages import TableOptions, make_table

    opts = TableOptions(**{k: v for k, v in vars(args).items()
                           if k not in ("func", "command", "debug")})
    res = make_table(opts)
    print(res.table.describe())
    print(f"wrote {opts.out} ({len(res.table)} points) and {res.model_dir}")
    return 0
