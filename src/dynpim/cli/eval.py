"""``dynpim eval``: calibrate BN per sub-net on training data and report test accuracy, MACs
and parameters as a table (printed, and written as JSON and CSV)."""

from __future__ import annotations

import argparse
import os

from dynpim.cli.train import set_threads, widths_list
from dynpim.rundir import check_output_file


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
    p.add_argument("--preset", default="sot-mram", help="PIM hardware preset for --pim")
    p.add_argument("--flip-prob", type=float, default=0.0, help="sensing bit-flip probability")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dynpim.data import load_dataset
    from dynpim.nn import SubnetConfig, load_configs
    from dynpim.nn.quant import exact_float32
    from dynpim.train import (
        calibration_batches,
        evaluate_configs,
        format_table,
        load_checkpoint,
        store_bn_bank,
        table_heading,
        write_table,
    )

    if args.calib_batches < 1 or args.batch_size < 1:
        raise ValueError("--calib-batches and --batch-size must be >= 1")
    set_threads(args.threads)
    from dynpim.train import resolve_checkpoint

    stem = args.out or os.path.join(resolve_checkpoint(args.checkpoint), "eval")
    for ext in (".json", ".csv"):  # before the evaluation, not after it
        check_output_file(stem + ext)
    ck = load_checkpoint(args.checkpoint)
    model = ck.model.to(args.device)
    tc = ck.meta.get("train_config", {})
    dataset = args.dataset or tc.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not record its dataset; pass --dataset")
    splits = load_dataset(dataset, data_dir=args.data_dir or tc.get("data_dir"),
                          split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout"))
    if splits.input_size != tuple(model.input_size):
        raise ValueError(f"dataset {dataset} has input {splits.input_size} but the model was "
                         f"built for {tuple(model.input_size)}")
    splits = splits.to(args.device)
    if args.widths:
        cfgs = [SubnetConfig.uniform(model, w) for w in args.widths]
    elif args.configs:
        cfgs = load_configs(args.configs)
    else:
        cfgs = ck.configs or model.banked_configs()
        if not cfgs:
            raise ValueError(f"checkpoint {ck.path} stores no configs; use --widths/--configs")
    calib = None if args.use_bank else calibration_batches(
        splits, batch_size=args.batch_size, num_batches=args.calib_batches)
    with exact_float32():  # on a GPU: no TF32, so fake-quant is comparable with the integers
        rows = evaluate_configs(model, list(dict.fromkeys(cfgs)), splits, calib,
                                split=args.split, batch_size=max(args.batch_size, 256))
    print(table_heading(model, dataset, args.split))
    print(format_table(rows))
    if calib is not None and not args.no_store:
        try:
            where = store_bn_bank(ck.path, model)
            print(f"stored the BN statistics of {len(rows)} config(s) in {where} (bn_bank)")
        except OSError as e:
            print(f"warning: could not store the BN statistics in {ck.path}: {e}")
    if args.pim:
        from dynpim.pim import load_preset
        from dynpim.pim.execute import evaluate_pim, format_pim_table

        with exact_float32():
            pim_rows = evaluate_pim(
                model, [SubnetConfig([int(w) for w in r["widths"]]) for r in rows],
                *splits.split(args.split),
                load_preset(args.preset), flip_prob=args.flip_prob, generator=0)
        print(f"PIM execution, preset {args.preset}, sensing flip probability "
              f"{args.flip_prob:g}; latency, energy and average power per image (batch 1)")
        print(format_pim_table(pim_rows))
        rows = [{**r, **p} for r, p in zip(rows, pim_rows)]
    jp, cp = write_table(rows, stem)
    print(f"wrote {jp} and {cp}")
    return 0
