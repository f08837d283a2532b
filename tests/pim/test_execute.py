"""Whole-network PIM execution equals the integer path bit for bit."""

import pytest
import torch

from dynpim import pim
from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.pim.execute import bitplane_conv2d, bitplane_linear, execute
from dynpim.quant import integer_forward, quantized_subnet


def _prepared(name, wbits, abits, **kw):
    torch.manual_seed(0)
    model = create_model(name, wbits=wbits, abits=abits, in_channels=1, image_size=12, **kw)
    x = torch.randn(6, 1, 12, 12)
    model.train()
    model(x)
    cfgs = [model.min_config(), model.random_config(torch.Generator().manual_seed(3)),
            model.max_config()]
    for cfg in cfgs:
        calibrate_bn(model, cfg, [x])
    return model.eval(), x, cfgs


@pytest.mark.parametrize("abits,wbits,groups,stride", [(3, 4, 1, 1), (8, 8, 2, 2),
                                                       (1, 1, 1, 1), (2, 1, 4, 2)])
def test_bitplane_conv_equals_engine_and_integer_conv(abits, wbits, groups, stride):
    g = torch.Generator().manual_seed(abits * 10 + wbits)
    x = torch.randint(0, 2**abits, (2, 4, 7, 7), generator=g)
    w = torch.randint(-(2 ** (wbits - 1)), 2 ** (wbits - 1), (8, 4 // groups, 3, 3), generator=g)
    ours = bitplane_conv2d(x, w, abits, wbits, stride, 1, groups)
    ref = torch.nn.functional.conv2d(x.double(), w.double(), None, stride, 1, 1, groups)
    assert torch.equal(ours, ref.round().long())
    assert torch.equal(ours, pim.bitwise_conv2d(x, w, abits, wbits, stride, 1, groups))
    wl = w.flatten(1)
    xl = x.flatten(1)[:, : wl.shape[1]]
    assert torch.equal(bitplane_linear(xl, wl, abits, wbits), xl @ wl.T)


@pytest.mark.parametrize("name,bits,kw", [("resnet20", (4, 4), {}), ("resnet20", (2, 3), {}),
                                          ("lenet", (8, 8), {}),
                                          ("mobilenet_v1", (3, 2), {"width_mult": 0.125})])
def test_execute_equals_integer_path(name, bits, kw):
    model, x, cfgs = _prepared(name, *bits, **kw)
    for cfg in cfgs:
        ref = integer_forward(model, cfg, x)
        out = execute(model, cfg, x, batch_size=4)
        assert torch.equal(out, ref)


def test_numpy_engine_backend_equals_integer_path():
    model, x, cfgs = _prepared("resnet20", 2, 2)
    cfg = cfgs[0]
    qs = quantized_subnet(model, cfg)
    hw = pim.load_preset("sot-mram")
    out = execute(model, cfg, x[:2], hw, backend="numpy", qs=qs)
    assert torch.equal(out, integer_forward(model, cfg, x[:2], qs=qs))


def test_bit_flips_perturb_reproducibly():
    model, x, cfgs = _prepared("lenet", 4, 4)
    cfg = cfgs[-1]
    clean = execute(model, cfg, x)
    a = execute(model, cfg, x, flip_prob=0.05, generator=7)
    b = execute(model, cfg, x, flip_prob=0.05, generator=7)
    assert torch.equal(a, b) and not torch.equal(a, clean)
    assert torch.equal(execute(model, cfg, x, flip_prob=0.0, generator=7), clean)


def test_execute_rejects_bad_arguments():
    model, x, cfgs = _prepared("lenet", 4, 4)
    with pytest.raises(ValueError, match="flip_prob"):
        execute(model, cfgs[0], x, flip_prob=1.5)
    with pytest.raises(ValueError, match="backend"):
        execute(model, cfgs[0], x, backend="cuda")
    with pytest.raises(ValueError):
        execute(model, SubnetConfig([1, 2, 3]), x)


def test_evaluate_pim_rows_and_table():
    from dynpim.pim.execute import evaluate_pim, format_pim_table

    model, x, cfgs = _prepared("lenet", 4, 4)
    y = torch.arange(len(x)) % 10
    rows = evaluate_pim(model, cfgs[:1], x, y, pim.load_preset("sot-mram"))
    (r,) = rows
    assert r["top1_pim"] == r["top1_fake_quant"] or r["agreement_pct"] < 100
    assert r["latency_s"] > 0 and r["energy_j"] > 0
    assert cfgs[0].key in format_pim_table(rows)


def test_train_config_and_cli_take_bit_widths():
    from dynpim.cli import build_parser
    from dynpim.train import TrainConfig

    assert TrainConfig(wbits=4, abits=4).wbits == 4
    with pytest.raises(ValueError, match="wbits"):
        TrainConfig(wbits=9)
    args = build_parser().parse_args(["train", "--wbits", "4", "--abits", "8", "--init-from",
                                      "runs/float"])
    assert (args.wbits, args.abits, args.init_from) == (4, 8, "runs/float")
    args = build_parser().parse_args(["eval", "--checkpoint", "x", "--all", "--pim",
                                      "--flip-prob", "0.001"])
    assert args.pim and args.flip_prob == 0.001 and args.preset == "sot-mram"
