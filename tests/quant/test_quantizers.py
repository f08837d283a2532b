"""Fake quantizers: code ranges, STE gradients, quantized zoo models train/switch/export."""

import pytest
import torch

from dynpim.models import create_model, list_models
from dynpim.models.common import LayerFactory
from dynpim.nn import SubnetConfig, calibrate_bn, channel_importance, reorder_channels
from dynpim.quant import (
    ActQuant,
    InputQuant,
    QuantDynamicConv2d,
    fake_quant_weight,
    round_ste,
    weight_codes,
)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_weight_codes_are_twos_complement_per_channel(bits):
    w = torch.randn(6, 3, 3, 3)
    codes, scale = weight_codes(w, bits)
    assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1
    assert torch.equal(codes, codes.round()) and scale.shape == (6,)
    if bits > 1:  # the largest-magnitude weight of each channel maps to +-qmax
        assert torch.equal(codes.abs().flatten(1).amax(1), torch.full((6,), 2.0 ** (bits - 1) - 1))
    err = (fake_quant_weight(w, bits) - w).abs().flatten(1).amax(1)
    if bits > 1:
        assert torch.all(err <= scale / 2 + 1e-6)


def test_ste_gradients():
    x = torch.tensor([0.2, 1.7, -0.4], requires_grad=True)
    round_ste(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(3))
    w = torch.randn(4, 5, requires_grad=True)
    fake_quant_weight(w, 4).sum().backward()
    assert torch.equal(w.grad, torch.ones(4, 5))


def test_act_quant_range_and_gradients():
    q = ActQuant(3)
    q.train()
    x = torch.linspace(-2, 10, 200, requires_grad=True)
    y = q(x)  # first training batch initialises alpha from the data
    alpha = float(q.alpha.detach())
    assert 0 < alpha <= 10.0
    s = alpha / 7
    codes = (y / s).detach()
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert codes.min() >= 0 and codes.max() <= 7 + 1e-4
    y.sum().backward()
    inside = (x.detach() > 0) & (x.detach() < alpha)
    assert torch.equal(x.grad[inside], torch.ones(int(inside.sum())))
    assert torch.all(x.grad[~inside] == 0)
    assert q.alpha.grad is not None and float(q.alpha.grad) > 0  # clipped values pull alpha up
    # eval/no-grad path gives identical values
    q.eval()
    with torch.no_grad():
        assert torch.equal(q(x.detach()), y.detach())


def test_input_quant_is_affine_unsigned_with_exact_zero():
    q = InputQuant(8)
    q.train()
    x = torch.randn(4, 1, 8, 8) * 2 - 0.5
    with torch.enable_grad():
        y = q(x)
    scale, zp = q.qparams()
    assert 0 <= zp <= 255
    codes = q.codes(x)
    assert codes.min() >= 0 and codes.max() <= 255
    assert torch.allclose(y, (codes - zp) * scale)
    assert (y - x).abs().max() <= scale / 2 + 1e-6
    assert float(q(torch.zeros(1))) == 0.0  # zero (padding) is exact
    lo = float(q.lo)
    with torch.no_grad():  # calibration-style forwards do not move the range
        q(x * 10)
    assert float(q.lo) == lo


@pytest.mark.parametrize("field,value", [("wbits", 0), ("abits", 9), ("wbits", 16),
                                         ("abits", True), ("wbits", 4.0)])
def test_bad_bit_widths_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        create_model("lenet", image_size=16, **{field: value})
    with pytest.raises(ValueError, match=field):
        LayerFactory(**{field: value})


def test_float_factory_unchanged():
    m = create_model("lenet", image_size=16)
    assert not any(isinstance(mod, (ActQuant, QuantDynamicConv2d)) for mod in m.modules())


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_quantized(name):
    torch.manual_seed(0)
    kw = {"in_channels": 1, "image_size": 16, "num_classes": 4}
    if name.startswith(("mobilenet", "vgg", "resnet18")):
        kw["width_mult"] = 0.125
    for wbits, abits in ((4, 4), (8, 2)):
        model = create_model(name, wbits=wbits, abits=abits, **kw)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 4, (8,))
        cfgs = [model.max_config(), model.min_config(), SubnetConfig.uniform(model, 0.5)]
        for _ in range(2):
            opt.zero_grad()
            for cfg in cfgs:
                with model.subnet(cfg):
                    torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        for p in model.parameters():
            assert torch.isfinite(p).all()
        assert model.macs(cfgs[1]) < model.macs(cfgs[0])


def _trained_resnet(wbits=4, abits=4):
    torch.manual_seed(1)
    model = create_model("resnet20", in_channels=1, image_size=16, wbits=wbits, abits=abits)
    x = torch.randn(16, 1, 16, 16)
    model.train()
    with torch.enable_grad():
        model(x).sum().backward()
    return model, x


def test_export_and_switching_match_dynamic():
    model, x = _trained_resnet()
    for ratio in (0.25, 1.0):
        cfg = SubnetConfig.uniform(model, ratio)
        calibrate_bn(model, cfg, [x])
    model.eval()
    with torch.no_grad():
        for ratio in (0.25, 1.0):
            cfg = SubnetConfig.uniform(model, ratio)
            with model.subnet(cfg):
                ref = model(x)
            static = model.export_subnet(cfg)
            assert (static(x) - ref).abs().max() <= 1e-5


def test_scales_shared_across_subnets_and_reorder_invariant():
    model, x = _trained_resnet()
    conv = model.body[1].conv1[0]
    full, _ = weight_codes(conv.weight, conv.wbits)
    small_w, _, _ = conv.quant_sliced(4, 8)
    # a sub-net uses the slice of the max-width integer weights: nothing is re-quantized
    _, scale = weight_codes(conv.weight, conv.wbits)
    assert torch.allclose(small_w, full[:8, :4] * scale[:8, None, None, None])
    cfg = model.max_config()
    calibrate_bn(model, cfg, [x])
    model.eval()
    with torch.no_grad():
        ref = model(x)
        reorder_channels(model, channel_importance(model, "l1"))
        calibrate_bn(model, cfg, [x])
        model.eval()
        out = model(x)
    # float sums in a new order can move a value across a rounding boundary (one LSB)
    assert (out - ref).abs().max() < 0.1 * ref.abs().max()
    assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.9


def test_quantized_export_runs_in_onnx(tmp_path):
    import inspect

    import numpy as np
    import onnxruntime as ort

    torch.manual_seed(0)
    model = create_model("lenet", image_size=16, wbits=4, abits=4)
    x = torch.randn(4, 1, 16, 16)
    model.train()
    model(x)
    cfg = SubnetConfig.uniform(model, 0.5)
    calibrate_bn(model, cfg, [x])
    static = model.export_subnet(cfg)
    with torch.no_grad():
        ref = static(x)
    kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    path = str(tmp_path / "q.onnx")
    torch.onnx.export(static, (x,), path, input_names=["x"], output_names=["y"], **kw)
    out = ort.InferenceSession(path).run(None, {"x": x.numpy()})[0]
    assert np.abs(out - ref.numpy()).max() <= 1e-4


def test_shape_probes_and_calibration_do_not_initialise_quantizers():
    torch.manual_seed(0)
    model = create_model("resnet20", in_channels=1, image_size=16, wbits=4, abits=4)
    model.macs(model.min_config())  # layer_table runs a train-mode forward on zeros
    calibrate_bn(model, model.max_config(), [torch.randn(4, 1, 16, 16)])
    quants = [m for m in model.modules() if isinstance(m, (ActQuant, InputQuant))]
    assert quants and not any(bool(m.initialized) for m in quants)
    model.train()
    model(torch.randn(8, 1, 16, 16))
    assert all(bool(m.initialized) for m in quants)
    assert all(float(m.alpha.detach()) > 0.1 for m in quants if isinstance(m, ActQuant))


def test_exact_float32_turns_tf32_off_and_restores_the_flags():
    from dynpim.quant import exact_float32

    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with pytest.raises(RuntimeError, match="boom"), exact_float32():
            assert not torch.backends.cudnn.allow_tf32
            assert not torch.backends.cuda.matmul.allow_tf32
            raise RuntimeError("boom")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
