"""``dynpim export`` checked in ONNX Runtime on 1,000 Fashion-MNIST test images (issue 18):
a float LeNet and a 4-bit (W4/A4) QAT LeNet, each a short training run, exported at width 0.5
through the CLI; ORT's predictions are compared with the PyTorch sub-net (float) and with the
integer path (quantized, QDQ graph), from raw [0, 1] images normalised with the ONNX metadata
only. Needs /usr/share/datasets/fashion-mnist (else ``--dataset digits``: its 450 test images).
The training runs are short (the accuracies are not the point; agreement is). Run time: 21
minutes with ``--steps 60`` on the 2-core machine at load average 6-9 (most of it the two
trainings' per-epoch validation and final test evaluation).

    python benchmarks/export_onnx.py [--steps 60] [--images 1000] [--allow-dirty]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from _common import add_provenance_args, md_table, start_run, write_result

from dynpim.cli import main as dynpim
from dynpim.data import load_dataset
from dynpim.nn import SubnetConfig
from dynpim.quant import integer_forward
from dynpim.train import TrainConfig, load_checkpoint, train


def check(run: str, splits, images: int, width: float, out: str) -> dict:
    assert dynpim(["export", "--checkpoint", run, "--width", str(width), "--out", out]) == 0
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    pre = json.loads(props["preprocessing"])
    mean = np.array(pre["mean"], np.float32)[None, :, None, None]
    std = np.array(pre["std"], np.float32)[None, :, None, None]
    x = splits.test_x[:images]
    raw = x.numpy() * std + mean  # the raw [0, 1] images a user has
    x_in = ((raw - mean) / std).astype(np.float32)
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {"input": x_in})[0])
    model = load_checkpoint(run).model.eval()
    cfg = SubnetConfig.uniform(model, width)
    with torch.no_grad(), model.subnet(cfg):
        ref = model(x)
    row = {"images": len(x), "config": cfg.key, "quantized": props["quantized"] == "true",
           "ops": sorted({n.op_type for n in onnx.load(out).graph.node}),
           "agree_pytorch": int((got.argmax(1) == ref.argmax(1)).sum()),
           "max_abs_diff_pytorch": float((got - ref).abs().max()),
           "ort_accuracy": float((got.argmax(1) == splits.test_y[:images]).float().mean())}
    if row["quantized"]:
        ints = integer_forward(model, cfg, x)
        row["agree_integer"] = int((got.argmax(1) == ints.argmax(1)).sum())
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--steps", type=int, default=60, help="training steps per model")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--width", type=float, default=0.5)
    add_provenance_args(p)
    args = p.parse_args()
    start_run()
    torch.set_num_threads(2)
    splits = load_dataset(args.dataset)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bits in (("float", 32), ("w4a4", 4)):
            cfg = TrainConfig(model="lenet", dataset=args.dataset, epochs=1, batch_size=128,
                              max_steps=None, lr=0.05, calib_batches=10, progress=False,
                              num_random=1, wbits=bits, abits=bits, eval_widths=(args.width,),
                              out=os.path.join(tmp, name))
            steps = min(args.steps, len(splits.train_y) // cfg.batch_size)
            sub = splits if steps * cfg.batch_size >= len(splits.train_y) else \
                _subset(splits, steps * cfg.batch_size)
            train(cfg, splits=sub)
            rows[name] = check(cfg.out, splits, args.images, args.width,
                               os.path.join(tmp, f"{name}.onnx"))
            print(name, rows[name])
    md = md_table(["model", "images", "agree with PyTorch", "agree with integer path",
                   "max abs diff (logits)", "ORT top-1"],
                  [[k, r["images"], r["agree_pytorch"], r.get("agree_integer", "–"),
                    f"{r['max_abs_diff_pytorch']:.2e}", f"{100 * r['ort_accuracy']:.1f} %"]
                   for k, r in rows.items()])
    print(md)
    write_result("export_onnx", {"dataset": args.dataset, "width": args.width,
                                 "steps": args.steps, "accuracy_split": "test", "rows": rows},
                 markdown=md)


def _subset(splits, n: int):
    """The first ``n`` training images (a short run; the test split is unchanged)."""
    from dataclasses import replace

    return replace(splits, train_x=splits.train_x[:n], train_y=splits.train_y[:n])


if __name__ == "__main__":
    main()
