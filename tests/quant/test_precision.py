"""Run-time precision: one stored network, switched to lower (wbits, abits) like a width."""

import copy

import pytest
import torch

from dynpim import pim
from dynpim.models import create_model
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.nn.precision import bank_key, check_precision, split_bank_key
from dynpim.pim.execute import execute
from dynpim.quant import (
    ActQuant,
    QuantDynamicConv2d,
    integer_forward,
    quantized_subnet,
    sensed_weight_bits,
    truncate_codes,
    weight_codes,
    weight_codes_at,
)

# every setting of benchmarks/precision_fmnist.py (6/6, 4/4, 3/3, 2/2) and an unequal pair
PRECISIONS = [(8, 8), (6, 6), (4, 4), (3, 3), (3, 2), (2, 2)]


def _model(name="resnet20", **kw):
    torch.manual_seed(0)
    model = create_model(name, wbits=8, abits=8, in_channels=1, image_size=12,
                         precisions=PRECISIONS[1:], **kw)
    x = torch.randn(6, 1, 12, 12)
    model.train()
    model(x)  # initialises every clip (all precisions) from one batch
    return model, x


def test_truncation_reads_the_top_bit_planes_at_the_centre_of_their_bin():
    codes = torch.arange(-128, 128, dtype=torch.float32)
    four = truncate_codes(codes, 8, 4)
    top = torch.floor(codes / 16)  # the top 4 bit-planes of the 8-bit pattern
    assert torch.equal((codes.long() & 0xFF) >> 4, top.long() & 0xF)
    assert torch.equal(four, 2 * top + 1)  # mid-rise: odd codes at half the step
    assert four.min() == -15 and four.max() == 15 and set(four.unique().tolist()) == set(
        range(-15, 16, 2))
    # as 5-bit two's complement: the stored top planes above a constant all-ones plane
    assert torch.equal((four.long() & 0x1F) >> 1, top.long() & 0xF)
    assert torch.equal(four.long() & 1, torch.ones(256, dtype=torch.long))
    # unbiased: every stored code is read within half a truncated step of itself
    assert (four * 8 - codes).abs().max() <= 8 and abs(float((four * 8 - codes).mean())) <= 0.5
    assert torch.equal(truncate_codes(codes, 8, 1), torch.where(codes < 0, -1.0, 1.0))
    assert torch.equal(truncate_codes(codes, 8, 8), codes)
    w = torch.randn(5, 3, 3, 3)
    c8, s8 = weight_codes(w, 8)
    c4, s4 = weight_codes_at(w, 8, 4)
    assert torch.equal(c4, 2 * torch.floor(c8 / 16) + 1) and torch.allclose(s4, s8 * 8)
    assert [sensed_weight_bits(8, b) for b in (8, 6, 2, 1)] == [8, 7, 3, 2]
    with pytest.raises(ValueError, match="cannot run 4-bit weights at 8 bits"):
        truncate_codes(c4, 4, 8)
    with pytest.raises(ValueError, match="cannot run 4-bit weights at 8 bits"):
        sensed_weight_bits(4, 8)


def test_truncation_passes_the_gradient_straight_through():
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    from dynpim.quant import fake_quant_weight
    fake_quant_weight(w, 8, 3).sum().backward()
    assert torch.allclose(w.grad, torch.ones_like(w))


def test_keys_and_checks():
    assert bank_key("4-8", None) == "4-8" and bank_key("4-8", (3, 2)) == "4-8-w3a2"
    assert split_bank_key("4-8-w3a2") == ((4, 8), (3, 2)) and split_bank_key("16") == ((16,), None)
    assert check_precision((4, 4), (8, 8)) == (4, 4)
    for bad in ((9, 4), (0, 4), (4,), "44", (True, 4)):
        with pytest.raises(ValueError, match="precision"):
            check_precision(bad, (8, 8))


def test_switching_precision_changes_layers_and_restores():
    model, x = _model()
    assert model.precisions == tuple(PRECISIONS)
    assert model.current_precision == (8, 8)
    conv = next(m for m in model.modules() if isinstance(m, QuantDynamicConv2d))
    act = next(m for m in model.modules() if isinstance(m, ActQuant))
    assert sorted(act.alphas) == ["2", "3", "4", "6"]
    cfg = SubnetConfig.uniform(model, 0.5)
    with model.subnet(cfg, bits=(3, 2)):
        assert (conv.active_wbits, act.active_bits, act.qmax) == (3, 2, 3)
        assert model.current_precision == (3, 2)
        assert model._state.key == cfg.key + "-w3a2"
    assert (conv.active_wbits, act.active_bits) == (8, 8) and model._state.bits is None
    with pytest.raises(ValueError, match="was not added"):
        model.set_precision((5, 5))
    with pytest.raises(ValueError, match="not allowed"):
        model.set_precision((9, 8))
    model.eval()
    with torch.no_grad(), model.precision((4, 4)):
        with pytest.raises(RuntimeError, match=r"-w4a4\] are not calibrated"):
            model(x)


def test_each_precision_has_its_own_bn_bank_and_clip_and_round_trips():
    model, x = _model()
    cfg = model.max_config()
    for bits in PRECISIONS:
        with model.precision(bits):
            calibrate_bn(model, cfg, [x])
    assert {tuple(c.widths) for c in model.banked_configs((2, 2))} == {cfg.widths}
    assert model.banked_configs() == [cfg]
    model.eval()
    with torch.no_grad():
        outs = {}
        for bits in PRECISIONS:
            with model.precision(bits):
                outs[bits] = model(x)
    assert not torch.equal(outs[(8, 8)], outs[(2, 2)])
    clone = create_model("resnet20", **{k: v for k, v in model.args.items()})
    clone.load_state_dict(model.state_dict())
    clone.eval()
    with torch.no_grad(), clone.precision((3, 2)):
        assert torch.equal(clone(x), outs[(3, 2)])
    deep = copy.deepcopy(model)
    with torch.no_grad(), deep.precision((4, 4)):
        assert torch.equal(deep(x), outs[(4, 4)])


@pytest.mark.parametrize("name,kw", [("resnet20", {}), ("lenet", {}),
                                     ("mobilenet_v1", {"width_mult": 0.125})])
def test_integer_path_and_pim_execute_are_bit_exact_at_every_precision(name, kw):
    model, x = _model(name, **kw)
    cfgs = [model.min_config(), model.max_config()]
    hw = pim.load_preset("sot-mram")
    for bits in PRECISIONS:
        with model.precision(bits):
            for cfg in cfgs:
                calibrate_bn(model, cfg, [x])
    model.eval()
    for bits in PRECISIONS:
        with model.precision(bits):
            for cfg in cfgs:
                qs = quantized_subnet(model, cfg)
                convs = [op for op in qs.ops if type(op).__name__ == "Conv"]
                sensed = bits[0] + (bits[0] < 8)  # the mid-rise all-ones plane below 8
                assert {op.wbits for op in convs} == {sensed}
                ref = integer_forward(model, cfg, x, qs=qs)
                with torch.no_grad(), model.subnet(cfg):
                    fake = model(x)
                assert (fake.argmax(1) == ref.argmax(1)).float().mean() >= 0.8
                assert torch.equal(execute(model, cfg, x, qs=qs), ref)
            if name == "resnet20":
                qs = quantized_subnet(model, cfgs[0])
                assert torch.equal(execute(model, cfgs[0], x[:2], hw, backend="numpy", qs=qs),
                                   integer_forward(model, cfgs[0], x[:2], qs=qs))


def test_bn_per_precision_gives_each_lower_precision_its_own_affine_everywhere(tmp_path):
    """``bn_per_precision``: a BN scale and shift per lower precision, used by the model, the
    integer path, ``pim.execute`` and the exported sub-net at that precision only; checkpoints
    rebuild it."""
    from dynpim.nn.layers import DynamicBatchNorm2d
    from dynpim.nn.onnx import qdq_subnet
    from dynpim.train.checkpoint import load_checkpoint, save_checkpoint

    model, x = _model(bn_per_precision=True)
    bns = [m for m in model.modules() if isinstance(m, DynamicBatchNorm2d)]
    assert model.args["bn_per_precision"] is True
    assert all(sorted(bn.precision_weight) == ["w2a2", "w3a2", "w3a3", "w4a4", "w6a6"]
               for bn in bns)
    assert torch.equal(bns[0].precision_weight["w4a4"], bns[0].weight)  # starts as a copy
    plain, _ = _model()
    n = sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in model.parameters()) == n + 5 * sum(
        2 * bn.num_features for bn in bns)
    cfg = model.min_config()
    for bits in ((8, 8), (4, 4)):
        with model.precision(bits):
            calibrate_bn(model, cfg, [x])
    model.eval()
    with torch.no_grad(), model.subnet(cfg):
        with model.precision((8, 8)):
            top = model(x)
        with model.precision((4, 4)):
            low = model(x)
        for bn in bns:  # move the 4/4 affine only
            bn.precision_weight["w4a4"].mul_(1.5)
            bn.precision_bias["w4a4"].add_(0.25)
        with model.precision((8, 8)):
            assert torch.equal(model(x), top)
        with model.precision((4, 4)):
            moved = model(x)
    assert not torch.allclose(moved, low)
    with model.precision((4, 4)), model.subnet(cfg):
        qs = quantized_subnet(model, cfg)
        ref = integer_forward(model, cfg, x, qs=qs)
        assert torch.equal(execute(model, cfg, x, qs=qs), ref)
        assert (ref.argmax(1) == moved.argmax(1)).float().mean() >= 0.8
        with torch.no_grad():
            assert torch.equal(model.export_subnet(cfg)(x), moved)
            assert torch.equal(qdq_subnet(model, cfg)(x), moved)
    save_checkpoint(str(tmp_path / "ck"), model, configs=[cfg])
    back = load_checkpoint(str(tmp_path / "ck")).model.eval()
    with torch.no_grad(), back.subnet(cfg, bits=(4, 4)):
        assert torch.equal(back(x), moved)
    with pytest.raises(ValueError, match="needs a quantized model"):
        create_model("lenet", bn_per_precision=True)
    from dynpim.train import TrainConfig
    with pytest.raises(ValueError, match="bn_per_precision needs precisions"):
        TrainConfig(wbits=4, abits=4, bn_per_precision=True)


def test_cost_model_follows_the_active_precision():
    model, _ = _model()
    hw = pim.load_preset("sot-mram")
    cfg = model.max_config()
    top = pim.estimate(model, cfg, hw, input_size=(1, 12, 12))
    with model.precision((4, 4)):
        low = pim.estimate(model, cfg, hw, input_size=(1, 12, 12))
        many = pim.estimate_many(model, [cfg], hw, input_size=(1, 12, 12))
    assert (low.layers[0].wbits, low.layers[0].abits) == (4, 8)  # the input stays 8-bit
    assert all((lc.wbits, lc.abits) == (4, 4) for lc in low.layers[1:])
    assert low.mapped_subarrays == top.mapped_subarrays  # weights stay where they are
    assert low.latency_s < 0.5 * top.latency_s and low.energy_j < 0.5 * top.energy_j
    table = model.layer_table((1, 12, 12))
    with model.precision((4, 4)):
        bits = pim.model_bits(model, table, hw)
    assert bits.wbits.tolist() == [4] * len(table)  # what the layers run at
    assert bits.sensed_wbits.tolist() == [5] * len(table)  # + the mid-rise all-ones plane
    assert pim.model_bits(model, table, hw).sensed_wbits.tolist() == [8] * len(table)
    # AND bits sensed: 5 weight planes x 4 activation planes of the 8 x 8 (input layer: 5 x 8)
    assert [lc.counts.sense_bits for lc in low.layers] == [
        t.counts.sense_bits * (5 * 8 if j == 0 else 5 * 4) // 64
        for j, t in enumerate(top.layers)]
    assert many["latency_s"][0] == low.latency_s


def test_step_passes_pair_every_width_and_joint_training_runs(tmp_path):
    from dynpim.nn.precision import parse_precisions
    from dynpim.train import TrainConfig, train
    from dynpim.train.samplers import Pass, lowest_precision, step_passes

    assert parse_precisions("4/4, 2/2") == [(4, 4), (2, 2)]
    with pytest.raises(ValueError, match="not wbits/abits"):
        parse_precisions("4-4")
    g = torch.Generator().manual_seed(0)
    big, small, mid = SubnetConfig((4,)), SubnetConfig((1,)), SubnetConfig((2,))
    steps = [step_passes([big, small, mid, mid], [(4, 4), (2, 2)], g) for _ in range(400)]
    for passes in steps:  # the largest once at the stored precision; the others stored + lower
        assert passes[0] == Pass(big)
        assert [p.config for p in passes[1:]] == [small, small, mid, mid, mid, mid]
        assert [p.bits for p in passes[1::2]] == [None, None, None]
        assert all(p.bits in ((4, 4), (2, 2)) for p in passes[2::2])
        assert [p.weight for p in passes] == [1.0] + [0.75, 0.25] * 3  # the default weights
    # lower_weight: each lower pass at it, its pair's stored pass at 1 - it (same draws)
    g2 = torch.Generator().manual_seed(0)
    weighted = step_passes([big, small, mid, mid], [(4, 4), (2, 2)], g2, 0.5)
    assert [p.weight for p in weighted] == [1.0] + [0.5] * 6
    assert TrainConfig().lower_weight == 0.25
    assert [p.bits for p in weighted] == [p.bits for p in steps[0]]
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="lower_weight must be in"):
            TrainConfig(lower_weight=bad)
    smallest = [p[2].bits for p in steps]  # the lowest on about 1/2 + 1/2 * 1/2 of steps
    assert 0.65 < smallest.count((2, 2)) / 400 < 0.85
    assert step_passes([big, small], [], g) == [Pass(big), Pass(small)]  # width only: unchanged
    # the lowest: fewest bit-plane pairs w * a, ties to the smaller pair
    assert lowest_precision([(6, 6), (2, 4), (4, 2), (3, 3)]) == (2, 4)
    with pytest.raises(ValueError, match="no precisions"):
        lowest_precision([])
    assert not any(p.from_previous for p in steps[0])  # every sub-net distils from the largest
    with pytest.raises(ValueError, match="precisions need a quantized model"):
        TrainConfig(precisions="4/4")
    with pytest.raises(ValueError, match="not allowed"):
        TrainConfig(wbits=4, abits=4, precisions="8/8")
    cfg = TrainConfig(model="lenet", wbits=4, abits=4, precisions="2/2,3/2", epochs=1,
                      max_steps=3, batch_size=32, progress=False, calib_batches=1,
                      out=str(tmp_path / "run"))
    model = train(cfg).model
    assert model.precisions == ((4, 4), (2, 2), (3, 2))
    assert model.args["precisions"] == [[2, 2], [3, 2]]
    from dataclasses import replace

    from dynpim.nn.layers import DynamicBatchNorm2d
    model = train(replace(cfg, bn_per_precision=True, max_steps=6, out=str(tmp_path / "bn"))).model
    bn = next(m for m in model.modules() if isinstance(m, DynamicBatchNorm2d))
    # the lower precisions' own scales trained apart from the shared one
    assert sorted(bn.precision_weight) == ["w2a2", "w3a2"]
    own = bn.precision_weight["w2a2"]
    assert not torch.equal(own, torch.ones_like(own)) and not torch.equal(own, bn.weight)


def test_a_pass_can_distil_from_the_previous_pass(monkeypatch, tmp_path):
    """``Pass.from_previous``: the soft target is the previous pass's output, not the first's."""
    import torch.nn.functional as F

    from dynpim.train import TrainConfig, train
    from dynpim.train import trainer as trainer_module
    from dynpim.train.samplers import Pass

    calls = []  # (output, target) of every soft cross-entropy
    real = trainer_module.soft_cross_entropy
    monkeypatch.setattr(trainer_module, "soft_cross_entropy",
                        lambda out, t: calls.append((out.detach(), t)) or real(out, t))
    monkeypatch.setattr(trainer_module, "step_passes", lambda cfgs, prec, g, w: [
        Pass(cfgs[0]), Pass(cfgs[1]), Pass(cfgs[1], None, 1.0, from_previous=True)])
    train(TrainConfig(model="lenet", epochs=1, max_steps=1, batch_size=16, progress=False,
                      calib_batches=1, subnet_loss="distill", num_random=0,
                      out=str(tmp_path / "run")))
    (out1, t1), (_, t2) = calls
    assert torch.allclose(t2, F.softmax(out1, dim=1))  # the previous pass's output
    assert not torch.allclose(t1, t2)                  # not the largest's


def test_export_subnet_qdq_and_onnx_run_the_active_precision(tmp_path):
    import onnxruntime as ort

    from dynpim.nn.onnx import qdq_subnet

    model, x = _model()
    cfg = model.min_config()
    for bits in PRECISIONS:
        with model.precision(bits):
            calibrate_bn(model, cfg, [x])
    model.eval()
    outs = {}
    for bits in PRECISIONS:
        with torch.no_grad(), model.subnet(cfg, bits=bits):
            outs[bits] = model(x)
            assert torch.equal(model.export_subnet(cfg)(x), outs[bits])
            assert torch.equal(qdq_subnet(model, cfg)(x), outs[bits])
    assert not torch.equal(outs[(8, 8)], outs[(4, 4)])
    with model.precision((3, 2)):
        static = model.export_subnet(cfg)  # a copy: fixed at 3/2 after the switch back
        model.export_subnet(cfg, onnx=str(tmp_path / "w3a2.onnx"))
    with torch.no_grad():
        assert torch.equal(static(x), outs[(3, 2)])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(tmp_path / "w3a2.onnx"), so,
                                providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])
    torch.testing.assert_close(got, outs[(3, 2)], rtol=1e-5, atol=1e-5)
    fresh, _ = _model()
    fresh.eval()
    with fresh.precision((4, 4)), pytest.raises(RuntimeError, match=r"-w4a4\] are not"):
        fresh.export_subnet(cfg)
