"""``dynpim export``: ONNX Runtime gives the PyTorch sub-net's predictions (float) and the integer
path's predictions (quantized, QDQ graph) on every digits test image."""

import argparse
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dynpim.cli import export as export_cli
from dynpim.data import load_dataset
from dynpim.nn import SubnetConfig
from dynpim.quant import integer_forward
from dynpim.train import TrainConfig, from_pretrained, load_checkpoint, train


def export(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    export_cli.register(parser.add_subparsers())
    args = parser.parse_args(["export", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def trained(tmp_path, digits, **kw):
    cfg = TrainConfig(model="lenet", dataset="digits", epochs=1, batch_size=64, lr=0.05,
                      calib_batches=2, progress=False, num_random=1,
                      out=str(tmp_path / "run"), **kw)
    train(cfg, splits=digits)
    return cfg.out


def onnx_logits(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])


def raw_images(digits, pre):
    """Undo the normalisation: what a user feeds after reading the ONNX metadata."""
    mean = torch.tensor(pre["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(pre["std"]).view(1, -1, 1, 1)
    return digits.test_x * std + mean


def test_float_export_matches_pytorch_and_carries_preprocessing(tmp_path, digits):
    run = trained(tmp_path, digits)
    out = str(tmp_path / "m.onnx")
    assert export("--checkpoint", run, "--width", "0.5", "--out", out,
                  "--calib-batches", "2", "--pretrained", str(tmp_path / "pre")) == 0
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    pre = json.loads(props["preprocessing"])
    assert pre["mean"] == list(digits.mean) and pre["std"] == list(digits.std)
    assert props["model_name"] == "lenet"
    model = load_checkpoint(run).model.eval()
    cfg = SubnetConfig.uniform(model, 0.5)
    assert json.loads(props["config"]) == list(cfg.widths)
    # raw [0, 1] images, normalised with the metadata only, give the sub-net's predictions
    x = raw_images(digits, pre)
    m, s = np.array(pre["mean"]), np.array(pre["std"])
    x_in = ((x.numpy() - m[None, :, None, None]) / s[None, :, None, None]).astype(np.float32)
    got = onnx_logits(out, torch.from_numpy(x_in))
    reloaded, _ = from_pretrained(str(tmp_path / "pre"))
    assert cfg in reloaded.banked_configs()
    with torch.no_grad(), reloaded.subnet(cfg):
        want = reloaded(digits.test_x)
    assert torch.equal(got.argmax(1), want.argmax(1))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_export_is_qdq_with_integer_predictions(tmp_path, digits, bits):
    run = trained(tmp_path, digits, wbits=bits, abits=bits)
    out = str(tmp_path / "q.onnx")
    assert export("--checkpoint", run, "--width", "0.5", "--out", out,
                  "--calib-batches", "2") == 0
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    got = onnx_logits(out, digits.test_x)  # ORT's default graph optimisations
    model = load_checkpoint(run).model.eval()
    cfg = SubnetConfig.uniform(model, 0.5)
    assert cfg in model.banked_configs()  # exported with the checkpoint's BN statistics
    ints = integer_forward(model.eval(), cfg, digits.test_x)
    assert torch.equal(got.argmax(1), ints.argmax(1))
    with torch.no_grad(), model.subnet(cfg):
        fake = model(digits.test_x)
    if bits < 8:  # at 8 bits ORT runs its own integer kernels (fused QDQ): predictions only
        torch.testing.assert_close(got, fake, rtol=1e-4, atol=1e-4)


def test_export_at_a_run_time_precision(tmp_path, digits):
    run = trained(tmp_path, digits, wbits=4, abits=4, precisions="2/2")
    out = str(tmp_path / "w2a2.onnx")
    assert export("--checkpoint", run, "--width", "0.5", "--bits", "2/2", "--out", out,
                  "--calib-batches", "2") == 0
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert json.loads(props["bits"]) == [2, 2]
    model = load_checkpoint(run).model.eval()
    cfg = SubnetConfig.uniform(model, 0.5)
    sess = ort.SessionOptions()
    sess.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    got = torch.from_numpy(ort.InferenceSession(out, sess, providers=["CPUExecutionProvider"])
                           .run(None, {"input": digits.test_x.numpy()})[0])
    with model.precision((2, 2)):
        if cfg not in model.banked_configs((2, 2)):
            from dynpim.nn import calibrate_bn
            from dynpim.train import calibration_batches
            calibrate_bn(model, cfg, calibration_batches(digits, batch_size=128,
                                                         num_batches=2))
            model.eval()
        with torch.no_grad(), model.subnet(cfg):
            low = model(digits.test_x)
    with torch.no_grad(), model.subnet(cfg):
        stored = model(digits.test_x)
    torch.testing.assert_close(got, low, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(got, stored, atol=1e-3)  # not the stored 4/4 sub-net
    with pytest.raises(ValueError, match="was not added"):
        export("--checkpoint", run, "--bits", "3/3", "--out", str(tmp_path / "x.onnx"))
    with pytest.raises(ValueError, match="one W/A setting"):
        export("--checkpoint", run, "--bits", "2/2,4/4", "--out", str(tmp_path / "x.onnx"))
