"""ONNX export of sub-nets: metadata, and the QDQ form of quantized sub-nets."""

import json

import onnx
import onnxruntime as ort
import pytest
import torch

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.nn.onnx import qdq_subnet
from dynpim.quant import ActQuant, InputQuant, integer_forward


def model(**kw):
    torch.manual_seed(0)
    m = create_model("lenet", image_size=8, width_mult=0.25, **kw)
    m.train()
    m(torch.randn(64, 1, 8, 8)).sum().backward()  # initialises the quantizer ranges
    cfg = SubnetConfig.uniform(m, 0.5)
    calibrate_bn(m, cfg, [torch.randn(32, 1, 8, 8)])
    return m.eval(), cfg


def run(path, x):
    """ONNX Runtime with graph optimisations off: the QDQ graph's own arithmetic (with them
    on, ORT fuses 8-bit QDQ into its integer kernels, whose requantisation rounds
    differently; tests/cli/test_export_cli.py checks predictions with the defaults)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])


def test_export_subnet_onnx_writes_metadata(tmp_path):
    m, cfg = model()
    m.preprocessing = {"mean": [0.5], "std": [0.25]}
    path = str(tmp_path / "f.onnx")
    static = m.export_subnet(cfg, onnx=path, metadata={"note": "x"})
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(props["preprocessing"]) == m.preprocessing
    assert props["note"] == "x" and json.loads(props["config"]) == list(cfg.widths)
    x = torch.randn(5, 1, 8, 8)  # batch axis is dynamic
    with torch.no_grad():
        torch.testing.assert_close(run(path, x), static(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bits", [4, 8])
def test_qdq_subnet_equals_fake_quant_and_runs_as_integers(tmp_path, bits):
    m, cfg = model(wbits=bits, abits=bits)
    q = qdq_subnet(m, cfg)
    assert not any(isinstance(t, (ActQuant, InputQuant)) for t in q.modules())
    x = torch.randn(300, 1, 8, 8)
    with torch.no_grad(), m.subnet(cfg):
        fake = m(x)
        torch.testing.assert_close(q(x), fake, rtol=0, atol=0)
    path = str(tmp_path / "q.onnx")
    m.export_subnet(cfg, onnx=path)
    graph = onnx.load(path).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("DequantizeLinear") >= 4 + 4  # 4 weights, >= 4 activations/inputs
    got = run(path, x)
    torch.testing.assert_close(got, fake, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.argmax(1), integer_forward(m, cfg, x).argmax(1))
