"""Every registered model x max, min, uniform and random non-uniform configs."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from dynpim.models import create_model, list_models
from dynpim.nn import SubnetConfig, calibrate_bn, channel_importance, reorder_channels

SIZE = 16  # small images keep the suite fast; every model supports them
MODELS = list_models()


def build(name: str):
    torch.manual_seed(0)
    return create_model(name, num_classes=7, in_channels=2, image_size=SIZE)


def configs(model):
    g = torch.Generator().manual_seed(1)
    return {
        "max": model.max_config(),
        "min": model.min_config(),
        "uniform": SubnetConfig.uniform(model, 0.5),
        "random": model.random_config(g),
    }


@pytest.fixture(params=MODELS)
def model(request):
    """A fresh model per test: tests calibrate, switch to eval and reorder channels, so a
    shared one would carry one test's state into the next (building one takes < 0.1 s)."""
    return build(request.param)


def batch(n=4):
    return torch.randn(n, 2, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


def test_registry_lists_all_expected_models():
    expected = {"resnet20", "resnet56", "resnet18", "vgg11_bn", "mobilenet_v1",
                "mobilenet_v1_imagenet", "lenet"}
    assert expected <= set(MODELS)


def test_unknown_model_and_argument():
    with pytest.raises(ValueError, match="unknown model 'nope'.*resnet20"):
        create_model("nope")
    with pytest.raises(ValueError, match="does not take"):
        create_model("resnet20", depth=3)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("resnet20", num_classes=0)


def test_create_model_records_args(model):
    assert model.name in MODELS and model.args["num_classes"] == 7
    assert create_model(model.name, **model.args).max_config() == model.max_config()


@pytest.mark.parametrize("which", ["max", "min", "uniform", "random"])
def test_forward_export_macs(model, which):
    cfg = configs(model)[which]
    x = batch()
    calibrate_bn(model, cfg, [x])
    model.eval()
    with torch.no_grad(), model.subnet(cfg):
        y = model(x)
    assert y.shape == (4, 7)
    static = model.export_subnet(cfg)
    assert not any(type(m).__module__.startswith("dynpim.nn") for m in static.modules())
    with torch.no_grad():
        ys = static(x)
    assert (ys - y).abs().max().item() <= 1e-5
    # independent MAC count on the static module (torch's FlopCounterMode: 2 FLOPs per MAC)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        static(x[:1])
    assert counter.get_total_flops() == 2 * model.macs(cfg, (2, SIZE, SIZE))
    assert model.params(cfg) == sum(p.numel() for p in static.parameters())


@pytest.mark.parametrize("which", ["max", "random"])
def test_onnx_export_runs(model, which, tmp_path):
    cfg = configs(model)[which]
    x = batch(2)
    calibrate_bn(model, cfg, [batch()])
    static = model.export_subnet(cfg)
    path = tmp_path / "m.onnx"
    torch.onnx.export(static, (x,), str(path), dynamo=False, input_names=["x"])
    assert path.stat().st_size > 0
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"x": x.numpy()})
    with torch.no_grad():
        ref = static(x).numpy()
    assert abs(out - ref).max() <= 1e-3 * max(1.0, abs(ref).max())


def test_reorder_keeps_max_function_and_sorts_prefixes(model):
    x = batch(8)
    cfg = model.max_config()
    calibrate_bn(model, cfg, [x])
    model.eval()
    with torch.no_grad(), model.subnet(cfg):
        before = model(x)
    scores = {k: torch.rand(len(v), generator=torch.Generator().manual_seed(3))
              for k, v in channel_importance(model, "l1").items()}
    perms = reorder_channels(model, scores)
    assert model.banked_configs() == []  # old statistics were in the old order
    calibrate_bn(model, cfg, [x])
    with torch.no_grad(), model.subnet(cfg):
        after = model(x)
    torch.testing.assert_close(after, before, atol=1e-3, rtol=1e-3)
    for name, p in perms.items():
        assert torch.all(scores[name][p][:-1] >= scores[name][p][1:])


def test_l1_importance_sorted_after_reorder(model):
    reorder_channels(model, channel_importance(model, "l1"))
    for s in channel_importance(model, "l1").values():
        assert torch.all(s[:-1] >= s[1:] - 1e-6)


def test_bn_importance_shapes(model):
    scores = channel_importance(model, "bn")
    assert [len(scores[s.name]) for s in model.slots] == [s.max_channels for s in model.slots]
    with pytest.raises(ValueError, match="criterion"):
        channel_importance(model, "magic")


def test_bad_configs_rejected(model):
    n = len(model.slots)
    with pytest.raises(ValueError, match=f"{n} slots"):
        model.set_subnet([1] * (n + 1))
    s0 = model.slots[0]
    with pytest.raises(ValueError, match=f"slot {s0.name!r}.*allowed range"):
        model.set_subnet([s0.max_channels + s0.step] + list(model.max_config().widths[1:]))
    with pytest.raises(ValueError, match="allowed range"):
        model.set_subnet([0] + list(model.max_config().widths[1:]))
    if s0.step > 1:
        with pytest.raises(ValueError, match=f"steps of {s0.step}"):
            model.set_subnet([s0.max_channels - 1] + list(model.max_config().widths[1:]))


def test_shared_slots_tie_residual_widths():
    m = create_model("resnet20", in_channels=1)
    names = [s.name for s in m.slots]
    assert names[:3] == ["stage1", "stage2", "stage3"] and len(names) == 12
    stage1_layers = [n for n, l in m.dynamic_layers() if l.out_slot == "stage1"]
    assert len(stage1_layers) == 2 + 3 * 2  # stem conv+bn, and conv2+bn2 of 3 blocks
