import json
import os

import pytest
import torch

from dynpim.nn import SubnetConfig
from dynpim.train import (
    Trainer,
    TrainingDiverged,
    UniformSampler,
    load_checkpoint,
    sandwich,
    soft_cross_entropy,
    train,
    training_state,
)
from dynpim.train.optim import lr_at, param_groups
from dynpim.train.samplers import step_generator


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dynamic_training_learns_and_writes_run_dir(tiny_cfg, synth):
    cfg = tiny_cfg(epochs=3)
    res = train(cfg, splits=synth)
    out = cfg.out
    assert sorted(os.listdir(out)) == ["checkpoint", "config.yaml", "env.json", "eval.csv",
                                       "eval.json", "metrics.csv", "metrics.jsonl"]
    lines = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["epoch"] for r in lines[:3]] == [1, 2, 3] and lines[-1]["final"]
    accs = {r["config"]: r["top1_test"] for r in res.final["test"]}
    assert len(accs) == 4 and max(accs.values()) > 60  # 4 classes: chance is 25 %
    ck = load_checkpoint(out)  # run dir resolves to its checkpoint, model rebuilt from meta
    assert [c.key for c in ck.configs] == list(accs) and ck.step == res.history[-1]["step"]
    assert {c.key for c in ck.model.banked_configs()} == set(accs)


@pytest.mark.parametrize("subnet_loss", ["distill", "labels", "both"])
def test_sandwich_gradient_is_sum_of_parts(tiny_cfg, synth, subnet_loss):
    cfg = tiny_cfg(num_random=2, lr=0.1, momentum=0.0, weight_decay=0.0, subnet_loss=subnet_loss)
    t = Trainer(cfg, splits=synth)
    x, y = synth.train_x[:16], synth.train_y[:16]
    cfgs = sandwich(t.sampler, 2, step_generator(cfg.seed, 0))
    assert cfgs[0] == t.model.max_config() and cfgs[1] == SubnetConfig.uniform(t.model, 0.25)
    m = t.model
    m.zero_grad()
    with m.subnet(cfgs[0]):
        big = m(x)
    total = torch.nn.functional.cross_entropy(big, y)
    for c in cfgs[1:]:
        with m.subnet(c):
            out = m(x)
        if subnet_loss != "labels":
            total = total + soft_cross_entropy(out, big.detach().softmax(1))
        if subnet_loss != "distill":
            total = total + torch.nn.functional.cross_entropy(out, y)
    total.backward()
    expect = {n: p - lr_at(0, t.total_steps, 0.1, 0) * p.grad for n, p in m.named_parameters()}
    t.train_step(x, y)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p, expect[n], rtol=0, atol=1e-6)


def test_soft_target_is_detached():
    logits = torch.randn(4, 3, requires_grad=True)
    raw = torch.randn(4, 3, requires_grad=True)
    soft_cross_entropy(logits, raw.softmax(1)).backward()
    assert raw.grad is None and logits.grad is not None


def test_no_weight_decay_on_bn_and_bias(synth, tiny_cfg):
    m = Trainer(tiny_cfg(), splits=synth).model
    decay, nodecay = param_groups(m, 5e-4)
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim == 1 for p in nodecay["params"])
    assert nodecay["weight_decay"] == 0 and len(nodecay["params"]) > 0


def test_schedule_warmup_then_cosine():
    assert lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(55, 100, 1.0, 10) == pytest.approx(0.5)
    assert lr_at(100, 100, 1.0, 10) == pytest.approx(0.0)


def test_uniform_sampler_respects_range(synth, tiny_cfg):
    m = Trainer(tiny_cfg(), splits=synth).model
    s = UniformSampler(m, 0.5, 0.75)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        c = s.sample(g)
        assert all(0.5 * sl.max_channels - sl.step <= w <= 0.75 * sl.max_channels + sl.step
                   for w, sl in zip(c.widths, m.slots))


def test_individual_mode_trains_one_config(tiny_cfg, synth):
    cfg = tiny_cfg(mode="individual", width=0.5, epochs=1)
    res = train(cfg, splits=synth)
    assert [r["config"] for r in res.final["test"]] == ["16-32-64"]


def test_nonuniform_configs_from_json(tiny_cfg, synth, tmp_path):
    p = tmp_path / "cfgs.json"
    p.write_text(json.dumps([[8, 32, 128], [32, 16, 64], [32, 64, 128]]))
    cfg = tiny_cfg(sampling="nonuniform", configs=str(p), epochs=1)
    res = train(cfg, splits=synth)
    assert {r["config"] for r in res.final["test"]} == {"8-32-128", "32-16-64", "32-64-128"}
    p.write_text(json.dumps([[8, 32, 999]]))
    with pytest.raises(ValueError, match="not allowed"):
        train(cfg, splits=synth)


def test_discrete_sampling_trains_every_width_each_step(tiny_cfg, synth):
    cfg = tiny_cfg(sampling="discrete", train_widths=(0.25, 0.5, 0.75, 1.0), epochs=1)
    t = Trainer(cfg, splits=synth)
    want = {SubnetConfig.uniform(t.model, w) for w in cfg.train_widths}
    for step in range(5):
        got = sandwich(t.sampler, 2, step_generator(cfg.seed, step))
        assert len(got) == 4 and set(got) == want
        assert got[0] == max(want, key=t.model.macs) and got[1] == min(want, key=t.model.macs)
    res = t.run()
    assert len(res.final["test"]) == 4


def test_list_sampler_draws_interior_first_then_any(tiny_cfg, synth):
    t = Trainer(tiny_cfg(sampling="discrete", train_widths=(0.25, 0.5, 1.0)), splits=synth)
    s, g = t.sampler, torch.Generator().manual_seed(0)
    assert s.draw(g, 1) == [s.configs[1]]
    three = s.draw(g, 3)
    assert three[0] == s.configs[1] and all(c in s.configs for c in three[1:])


def test_same_seed_same_weights(tiny_cfg, synth):
    a = train(tiny_cfg(epochs=1, max_steps=3), splits=synth).model
    b = train(tiny_cfg(epochs=1, max_steps=3), splits=synth).model
    assert _equal(_weights(a), _weights(b))


class _Kill(Exception):
    pass


@pytest.mark.parametrize("how", ["max_steps", "crash"])
def test_resume_is_bit_exact(tiny_cfg, synth, tmp_path, how):
    ref = train(tiny_cfg(epochs=3, out=str(tmp_path / "ref")), splits=synth)
    cfg = tiny_cfg(epochs=3, out=str(tmp_path / "b"))
    ck = str(tmp_path / "b" / "checkpoint")
    assert training_state(ck) == "none" and training_state(ref.checkpoint) == "finished"
    if how == "max_steps":  # stops mid-epoch 2 (7 steps per epoch), checkpoints there
        train(cfg.replace(max_steps=10), splits=synth)
    else:  # crash mid-epoch 2: the epoch-1 checkpoint survives
        def hook(trainer, info):
            if info["step"] == 11:
                raise _Kill
        with pytest.raises(_Kill):
            train(cfg, splits=synth, hooks=[hook])
        assert load_checkpoint(cfg.out).step == 7
    assert training_state(ck) == "partial"  # a pipeline must resume it, not use it
    res = train(cfg, splits=synth, resume=True)
    assert training_state(ck) == "finished"
    assert _equal(_weights(ref.model), _weights(res.model))
    assert [h["train_loss"] for h in res.history] == [h["train_loss"] for h in ref.history] \
        or how == "max_steps"


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_cfg, synth):
    cfg = tiny_cfg(epochs=3)

    def poison(trainer, info):
        if info["step"] == 8:  # in epoch 2, after the epoch-1 checkpoint
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="loss became nan at step 9"):
        train(cfg, splits=synth, hooks=[poison])
    ck = load_checkpoint(cfg.out)
    assert ck.step == 7
    assert all(torch.isfinite(v).all() for v in ck.model.state_dict().values())


def test_channels_last_trains_the_same_model_and_hands_back_contiguous(tiny_cfg, synth, tmp_path):
    """NHWC is a memory layout only: same weights up to float rounding, same checkpoint format,
    and the returned model is in the usual layout again (export, numpy, PIM mapping)."""
    seen = []

    def hook(trainer, info):
        conv = next(p for p in trainer.model.parameters() if p.dim() == 4)
        seen.append(conv.is_contiguous(memory_format=torch.channels_last))

    ref = train(tiny_cfg(epochs=1, max_steps=4, out=str(tmp_path / "a")), splits=synth)
    cfg = tiny_cfg(epochs=1, max_steps=4, out=str(tmp_path / "b"), channels_last=True)
    res = train(cfg, splits=synth, hooks=[hook])
    assert seen == [True] * 4
    a, b = _weights(ref.model), _weights(res.model)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-5) for k in a)
    assert all(v.is_contiguous() for v in res.model.state_dict().values())
    assert _equal(_weights(load_checkpoint(cfg.out).model), b)


def test_val_precisions_validate_every_epoch_at_those_precisions_too(tiny_cfg, synth):
    """``--val-precisions 2/2``: each epoch's validation also runs at 2/2, keyed
    ``<config>-w2a2``; the epoch line groups the numbers by precision; a precision that was not
    trained is refused."""
    from dynpim.train.trainer import epoch_line

    cfg = tiny_cfg(epochs=1, wbits=4, abits=4, precisions="2/2,3/3", val_precisions="2/2")
    res = train(cfg, splits=synth)
    val = res.history[0]["val_top1"]
    stored = [k for k in val if not k.endswith("-w2a2")]
    assert len(stored) >= 2 and sorted(val) == sorted(stored + [k + "-w2a2" for k in stored])
    line = epoch_line(res.history[0], 1)
    assert line.count("at 2/2: ") == 1 and line.count(" / ") == 2 * (len(stored) - 1)
    with pytest.raises(ValueError, match="val_precisions: 4/4 is not one of --precisions"):
        tiny_cfg(wbits=8, abits=8, precisions="2/2", val_precisions="4/4")
    with pytest.raises(ValueError, match="is not one of --precisions"):
        tiny_cfg(val_precisions="2/2")
