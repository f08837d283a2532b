"""``dynpim table``: build the operating table (schema ``dynpim.operating_table/1``) from a
trained checkpoint and a set of configs, for the run-time controller (``dynpim runtime``).

Besides the table JSON it writes a checkpoint (``<out stem>.model/``) holding the weights and
the BN statistics calibrated for every table config, which ``DynamicRuntime`` needs.

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
import os


def levels_list(s: str) -> list[int]:
    try:
        out = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {s!r}") from None
    if not out:
        raise argparse.ArgumentTypeError("expected at least one level")
    return out


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
    p.add_argument("--preset", default="sot-mram", help="PIM hardware preset or YAML path")
    p.add_argument("--active-levels", type=levels_list,
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


def check_table_outputs(out: str, *, overwrite: bool) -> None:
    """Before any work (issue 20): ``out`` can be written as a file (not a directory, its
    folder writable), is no existing table unless ``overwrite``, and ``<stem>.model`` is
    nothing but a table's checkpoint."""
    from dynpim.errors import RunDirError
    from dynpim.rundir import check_output_file, read_run

    check_output_file(out, overwrite=overwrite)
    model_dir = f"{os.path.splitext(out)[0]}.model"
    if os.path.exists(model_dir):
        if not os.path.isdir(model_dir) or read_run(model_dir) is not None or not (
                os.path.isfile(os.path.join(model_dir, "meta.json"))):
            raise RunDirError(f"--out {out}: {model_dir} exists and is not a table's model "
                              f"checkpoint; choose another --out")
        if not overwrite:
            raise RunDirError(f"--out {out}: {model_dir} exists; pass --overwrite to replace "
                              f"the table and its checkpoint")


def run(args: argparse.Namespace) -> int:
    from dynpim import pim
    from dynpim.cli.search import load_inputs
    from dynpim.data import selection_split
    from dynpim.nn import SubnetConfig, load_configs
    from dynpim.search import HoldoutEvaluator, active_levels, build_operating_table
    from dynpim.train import calibration_batches, save_checkpoint

    check_table_outputs(args.out, overwrite=args.overwrite)
    split = selection_split(args.split, option="--split")
    if args.calib_batches < 1 or args.calib_batch_size < 1:
        raise ValueError("--calib-batches and --calib-batch-size must be >= 1")
    measured = _measured(args)
    if measured is None:
        hw = pim.load_preset(args.preset)
        levels = active_levels(hw, args.active_levels)
    ck, splits = load_inputs(args.checkpoint, args.dataset, args.data_dir, args.device)
    model = ck.model
    cfgs = load_configs(args.configs) if args.configs else (ck.configs or model.banked_configs())
    if measured is not None:  # the measured configs (--configs, if given, must list them all)
        given = {c.key for c in cfgs}
        cfgs = list(dict.fromkeys(SubnetConfig(p["widths"]) for p in measured["points"]))
        missing = [c.key for c in cfgs if c.key not in given]
        if args.configs and missing:
            raise ValueError(f"{args.latency} measured configs not in {args.configs}: "
                             f"{', '.join(missing[:3])}")
    if not cfgs:
        raise ValueError(f"checkpoint {ck.path} stores no configs; pass --configs")
    x, y = splits.split(split)
    if len(y) == 0:
        raise ValueError(f"the {split} split of {ck.path} is empty (trained with holdout 0?); "
                         f"retrain with a validation split")
    calib = calibration_batches(splits, batch_size=args.calib_batch_size,
                                num_batches=args.calib_batches)
    model.clear_bn_bank()
    evaluator = HoldoutEvaluator(x, y, calib, batch_size=1000, keep_stats=True)
    report = None if args.no_test_accuracy else HoldoutEvaluator(
        splits.test_x, splits.test_y, calib, batch_size=1000)
    stem = os.path.splitext(args.out)[0]
    model_dir = f"{stem}.model"
    if measured is not None:
        table = _measured_table(args, model, cfgs, measured, evaluator, report, split,
                                os.path.abspath(model_dir), os.path.abspath(ck.path))
    else:
        table = build_operating_table(
            model, cfgs, hw, evaluator, levels=levels, pareto=not args.all_points, split=split,
            report=report, precisions=_precisions(args.precisions, model),
            meta={"model": {"name": model.name, "args": model.args},
                  "checkpoint": os.path.abspath(model_dir),
                  "source_checkpoint": os.path.abspath(ck.path)})
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    save_checkpoint(model_dir, model, configs=table.configs(),
                    extra={"train_config": ck.meta.get("train_config", {})})
    table.meta["run"] = {"kind": "table", "config": {k: v for k, v in vars(args).items()
                                                     if k != "func"}}
    table.save(args.out)
    print(table.describe())
    print(f"wrote {args.out} ({len(table)} points) and {model_dir}")
    return 0


def _precisions(text: str, model) -> list:
    """``--precisions`` as a list for build_operating_table (``None``: the stored one)."""
    from dynpim.nn.precision import parse_precisions

    if text == "stored" or not model.precisions:
        if text not in ("stored", "all"):
            raise ValueError(f"--precisions {text!r}: the model has no run-time precisions "
                             f"(train with dynpim train --precisions)")
        return [None]
    if text == "all":
        return [None, *model.precisions[1:]]
    wanted = parse_precisions(text)
    for p in wanted:
        if p not in model.precisions:
            raise ValueError(f"--precisions: {p[0]}/{p[1]} is not one of the model's "
                             f"{', '.join(f'{w}/{a}' for w, a in model.precisions)}")
    return [None if p == model.stored_precision else p for p in wanted]


def _measured(args: argparse.Namespace) -> dict | None:
    """The latency measurement for ``--hardware measured:*`` (None for ``pim``)."""
    import json

    hwname = args.hardware
    if hwname == "pim":
        if args.latency:
            raise ValueError("--latency needs --hardware measured:cpu (or measured:cuda)")
        return None
    if hwname not in ("measured:cpu", "measured:cuda"):
        raise ValueError(f"--hardware must be pim, measured:cpu or measured:cuda, got {hwname!r}")
    if not args.latency:
        raise ValueError(f"--hardware {hwname} needs --latency FILE (from dynpim latency)")
    if args.active_levels:
        raise ValueError("--active-levels is a PIM option; measured tables use the thread "
                         "counts of the latency file")
    with open(args.latency) as f:
        data = json.load(f)
    kind = hwname.split(":", 1)[1]
    if not str(data.get("device", "")).startswith(kind):
        raise ValueError(f"{args.latency} was measured on {data.get('device')!r}, not {kind}")
    return data


def _measured_table(args: argparse.Namespace, model, cfgs, measured: dict, evaluator, report,
                    split: str, model_dir: str, source: str):
    from dynpim.runtime import OperatingTable
    from dynpim.search.latency import measured_table_points

    accs = evaluator(model, cfgs)
    tests = report(model, cfgs) if report is not None else None
    acc = {c.key: a for c, a in zip(cfgs, accs)}
    test = {c.key: a for c, a in zip(cfgs, tests)} if tests is not None else None
    points = measured_table_points(measured, acc, test, power_w=args.power_w)
    info = {"model": {"name": model.name, "args": model.args}, "hardware": args.hardware,
            "preset": args.hardware, "input_size": list(model.input_size),
            "active_levels": sorted({p.active_subarrays for p in points}),
            "level_meaning": "CPU threads" if args.hardware == "measured:cpu" else "device",
            "latency_file": os.path.abspath(args.latency),
            "latency_device": measured.get("device_name"), "latency_batch_size":
            measured.get("batch_size"), "latency_statistic": "median",
            "power_model": f"assumed {args.power_w} W while computing" if args.power_w
            else "not modelled (energy and power are 0)",
            "checkpoint": model_dir, "source_checkpoint": source, "accuracy_split": split}
    if report is not None:
        info["test_accuracy_split"] = "test"
    table = OperatingTable(points, info)
    return table if args.all_points else table.pareto()
