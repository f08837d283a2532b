"""``dynpim export``: one sub-net of a checkpoint as ONNX (a QDQ graph for quantized
checkpoints) with its preprocessing in the ONNX metadata, or as a ``save_pretrained`` folder."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a sub-net of a checkpoint as ONNX",
                       description="Export one sub-net of a trained checkpoint as ONNX "
                       "(TorchScript exporter, no onnxscript needed). Quantized checkpoints "
                       "give a standard QuantizeLinear/DequantizeLinear graph. The ONNX "
                       "metadata records the preprocessing (per-channel mean/std of raw "
                       "images in [0, 1]), the model, the config and the versions.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint folder or run directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--width", type=float, help="uniform width ratio, e.g. 0.5 (default: "
                       "the largest trained config)")
    which.add_argument("--widths", metavar="W1,W2,...", help="explicit channels per slot")
    p.add_argument("--bits", metavar="W/A", default=None,
                   help="run-time precision to export at (weight/activation bits, one the "
                   "checkpoint was trained with, e.g. 4/4; default: the stored precision)")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--calib-batches", type=int, default=50,
                   help="training batches to calibrate BN when the checkpoint has no "
                   "statistics for the config")
    p.add_argument("--batch-size", type=int, default=128, help="calibration batch size")
    p.add_argument("--data-dir", default=None, help="data folder of the training dataset")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 13 for QDQ)")
    p.add_argument("--pretrained", metavar="DIR", default=None,
                   help="also write a save_pretrained folder (config.json + model.safetensors)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dynpim.nn import SubnetConfig
    from dynpim.nn.precision import parse_precisions
    from dynpim.train import load_checkpoint

    ck = load_checkpoint(args.checkpoint)
    model = ck.model.eval()
    if args.width is not None:
        cfg = SubnetConfig.uniform(model, args.width)
    elif args.widths:
        cfg = model.validate([int(w) for w in args.widths.split(",")])
    else:
        cfg = model.max_config()
    bits = None
    if args.bits:
        parsed = parse_precisions(args.bits)
        if len(parsed) != 1:
            raise ValueError(f"--bits takes one W/A setting, got {args.bits!r}")
        bits = parsed[0]
    with model.precision(bits):  # raises for a setting the model was not given
        return _export(args, ck, model, cfg, bits)


def _export(args: argparse.Namespace, ck, model, cfg, bits) -> int:
    from dynpim.nn.onnx import export_onnx
    from dynpim.train import save_pretrained
    from dynpim.train.provenance import git_commit, versions

    at = "" if bits is None else f" at {bits[0]}/{bits[1]}"
    if cfg not in model.banked_configs(bits):
        from dynpim.data import load_dataset
        from dynpim.nn import calibrate_bn
        from dynpim.train import calibration_batches

        tc = ck.meta.get("train_config", {})
        if not tc.get("dataset"):
            raise ValueError(f"config [{cfg.key}] has no BN statistics in the checkpoint and "
                             f"the checkpoint does not record its dataset to calibrate on")
        splits = load_dataset(tc["dataset"], data_dir=args.data_dir or tc.get("data_dir"),
                              split_seed=tc.get("split_seed", 0), holdout=tc.get("holdout"))
        calibrate_bn(model, cfg, calibration_batches(splits, batch_size=args.batch_size,
                                                     num_batches=args.calib_batches))
        model.eval()
        print(f"calibrated BN for [{cfg.key}]{at} on {args.calib_batches} training batches")
    export_onnx(model, args.out, cfg, opset=args.opset,
                metadata={"checkpoint": ck.path, "versions": versions(), "commit": git_commit(),
                          "bits": None if model.current_precision is None
                          else list(model.current_precision)})
    print(f"wrote {args.out}: {model.name} at [{cfg.key}]{at}, "
          f"{model.macs(cfg) / 1e6:.3f} MMACs, input (N, {', '.join(map(str, model.input_size))})")
    if args.pretrained:
        save_pretrained(model, args.pretrained, ck.configs or None)
        print(f"wrote {args.pretrained} (save_pretrained)")
    return 0
