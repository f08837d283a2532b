"""Integer export: program format, BN folding, integer path vs fake-quant model."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.quant import (
    ActQuant,
    Conv,
    Dequantize,
    QuantizeInput,
    Requant,
    fold_bn,
    integer_forward,
    quantized_subnet,
    run_program,
)


def _prepared(name, wbits, abits, ratios=(0.25, 1.0), **kw):
    torch.manual_seed(0)
    kw = {"in_channels": 1, "image_size": 16, **kw}
    model = create_model(name, wbits=wbits, abits=abits, **kw)
    x = torch.randn(32, 1, 16, 16)
    model.train()
    model(x)  # initialise quantizer ranges
    cfgs = [SubnetConfig.uniform(model, r) for r in ratios]
    for cfg in cfgs:
        calibrate_bn(model, cfg, [x])
    return model.eval(), x, cfgs


def test_fold_bn_preserves_outputs():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 5, 3, padding=1, bias=True), nn.BatchNorm2d(5)
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.normal_()
    bn.bias.data.normal_()
    bn.eval()
    x = torch.randn(2, 3, 8, 8)
    w, b = fold_bn(conv.weight, conv.bias, bn)
    ref = bn(conv(x))
    assert torch.allclose(nn.functional.conv2d(x, w, b, padding=1), ref, atol=1e-5)


@pytest.mark.parametrize("name,kw", [("resnet20", {}), ("lenet", {}),
                                     ("mobilenet_v1", {"width_mult": 0.25}),
                                     ("vgg11_bn", {"width_mult": 0.25})])
@pytest.mark.parametrize("bits", [(8, 8), (4, 4), (2, 3)])
def test_integer_path_matches_fake_quant(name, kw, bits):
    model, x, cfgs = _prepared(name, *bits, **kw)
    for cfg in cfgs:
        with torch.no_grad(), model.subnet(cfg):
            ref = model(x).double()
        out = integer_forward(model, cfg, x)
        assert out.dtype == torch.float64 and out.shape == ref.shape
        # equal up to float32 rounding of the fake-quant model: a one-LSB flip where a value
        # sits within float error of a rounding tie propagates, but stays small (relative to
        # the LSB: at 2-3 bits one LSB is a quarter to an eighth of the range; which values
        # sit on a tie depends on the CPU's float kernels)
        tol = 0.15 if min(bits) >= 4 else 0.3
        assert (out - ref).abs().max() <= tol * ref.abs().max() + 1e-6
        assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.9


def test_requantized_codes_equal_fake_quant_codes_up_to_one_lsb():
    model, x, (cfg, _) = _prepared("resnet20", 8, 8)
    codes = []
    hooks = [m.register_forward_hook(lambda m, i, o: codes.append(o / m.scale()))
             for m in model.modules() if isinstance(m, ActQuant)]
    with torch.no_grad(), model.subnet(cfg):
        model(x)
    for h in hooks:
        h.remove()
    qs = quantized_subnet(model, cfg)
    requants = [op for op in qs.ops if isinstance(op, Requant)]
    assert len(requants) == len(codes)
    for op, ref in list(zip(requants, codes))[:4]:
        pos = qs.ops.index(op)
        q = run_program(replace(qs, ops=qs.ops[: pos + 1], output=op.out), x)
        diff = (q.double() - ref.round().double().reshape(q.shape)).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() <= 1e-3


def test_program_format_resnet():
    model, x, (small, big) = _prepared("resnet20", 4, 4)
    qs = quantized_subnet(model, small)
    assert isinstance(qs.ops[0], QuantizeInput) and 0 <= qs.ops[0].zero_point <= 255
    assert isinstance(qs.ops[-1], Dequantize) and qs.output == qs.ops[-1].out
    convs = [op for op in qs.ops if isinstance(op, Conv)]
    assert len(qs.layers) == 22  # 19 convs + 2 projection shortcuts + 1 linear
    specs = {s.name: s for s in model.layer_specs(small)}
    for op in convs:
        assert op.weight.dtype == torch.int64
        assert op.weight.min() >= -8 and op.weight.max() <= 7
        assert op.weight.shape[0] == specs[op.name].out_channels
        assert op.weight.shape[1] * op.groups == specs[op.name].in_channels
    assert convs[0].abits == 8 and all(op.abits == 4 for op in convs[1:])
    requants = [op for op in qs.ops if isinstance(op, Requant)]
    assert sum(len(op.srcs) == 2 for op in requants) == 9  # one residual add per block
    for op in requants:
        assert torch.all(op.shift >= 1) and op.qmax == 15
        assert all(m.abs().max() < 2**30 for m in op.multipliers)
    # the sub-net slices the max-width integer weights (one stored copy)
    qb = quantized_subnet(model, big)
    for name, op in qs.layers.items():
        wb = qb.layers[name].weight
        if getattr(op, "groups", 1) == 1:
            sl = wb[: op.weight.shape[0], : op.weight.shape[1]]
            assert torch.equal(op.weight, sl)


def test_integer_export_errors():
    model = create_model("lenet", image_size=16)
    with pytest.raises(ValueError, match="not quantized"):
        quantized_subnet(model, model.max_config())
    model = create_model("lenet", image_size=16, wbits=32, abits=4)
    with pytest.raises(ValueError, match="wbits"):
        quantized_subnet(model, model.max_config())
    model = create_model("lenet", image_size=16, wbits=4, abits=4)
    with pytest.raises(RuntimeError, match="calibrate"):
        quantized_subnet(model, model.max_config())
    model, x, (cfg, _) = _prepared("lenet", 4, 4)
    qs = quantized_subnet(model, cfg)
    with pytest.raises(ValueError, match="input shape"):
        integer_forward(model, cfg, torch.zeros(1, 1, 8, 8), qs=qs)


def test_residual_joins_are_recognised_by_type_not_by_child_names():
    """A :class:`Residual` with any child names compiles to one two-source requantization; a
    plain module with children named ``shortcut`` and ``act`` is not a residual."""
    from dynpim.models.common import Classifier, ConvBNAct, LayerFactory
    from dynpim.nn import DynamicNet, Residual, Slot

    f = LayerFactory(4, 4)
    torch.manual_seed(0)
    body = nn.Sequential(
        ConvBNAct(f, 1, 8, 3, in_slot=None, out_slot="s"),
        Residual({"left": f.conv(8, 8, 3, in_slot="s", out_slot="s"), "right": f.bn(8, "s")},
                 act=f.act()),
        Classifier(f, 8, 3, "s"))
    model = DynamicNet(body, [Slot.make("s", 8)], input_size=(1, 8, 8))
    x = torch.randn(16, 1, 8, 8)
    model.train()
    model(x)
    cfg = model.max_config()
    calibrate_bn(model, cfg, [x])
    model.eval()
    qs = quantized_subnet(model, cfg)
    assert sum(len(op.srcs) == 2 for op in qs.ops if isinstance(op, Requant)) == 1
    with torch.no_grad():
        ref = model(x).double()
    assert (integer_forward(model, cfg, x, qs=qs) - ref).abs().max() <= 0.15 * ref.abs().max()

    class NamedLikeABlock(nn.Module):
        def __init__(self, block: Residual) -> None:
            super().__init__()
            self.main, self.shortcut, self.act = block.get_submodule("left"), nn.Identity(), \
                block.act

        def forward(self, x):
            return self.act(self.main(x) + self.shortcut(x))

    model.body[1] = NamedLikeABlock(model.body[1])
    with pytest.raises(ValueError, match="does not support module NamedLikeABlock"):
        quantized_subnet(model, cfg)
