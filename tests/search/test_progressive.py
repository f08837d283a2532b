import json

import numpy as np
import pytest

from dynpim import pim
from dynpim.nn import SubnetConfig
from dynpim.search import (
    HoldoutEvaluator,
    SearchOptions,
    candidates,
    choose,
    group_sizes,
    make_cost_fn,
    make_finetuner,
    min_widths,
    progressive_search,
    read_trajectory,
)


@pytest.fixture
def evaluator(synth, calib):
    return HoldoutEvaluator(synth.holdout_x, synth.holdout_y, calib, batch_size=256)


@pytest.fixture(scope="module")
def hw():
    return pim.load_preset("sot-mram")


def test_groups_and_candidates(model):
    slots = model.slots
    groups, mins = group_sizes(slots, 8), min_widths(slots, None)
    assert groups == [max(s.step, s.max_channels // 8) for s in slots]
    assert mins == [s.min_channels for s in slots]
    cands = candidates(model.max_config(), groups, mins)
    assert [i for i, _ in cands] == list(range(len(slots)))
    for i, c in cands:
        c.validate(slots)
        assert c.widths[i] == slots[i].max_channels - groups[i]
    assert candidates(model.min_config(), groups, mins) == []
    assert min_widths(slots, 0.5) == [s.round(s.max_channels / 2) for s in slots]


def test_trajectory_monotone_and_valid(model, evaluator, hw, tmp_path):
    path = str(tmp_path / "t.jsonl")
    recs = progressive_search(model, evaluator, make_cost_fn(model, hw),
                              SearchOptions(objective="accuracy"), trajectory_path=path)
    assert recs[0]["config"] == list(model.max_config().widths)
    assert recs[-1]["config"] == list(model.min_config().widths)  # ran to the end
    assert [r["step"] for r in recs] == list(range(len(recs)))
    macs = [r["macs"] for r in recs]
    energy = [r["energy_j"] for r in recs]
    assert all(a > b for a, b in zip(macs, macs[1:]))
    assert all(a >= b for a, b in zip(energy, energy[1:]))
    for r in recs:
        cfg = SubnetConfig(r["config"]).validate(model.slots)
        assert r["macs"] == model.macs(cfg)
        assert 0.0 <= r["accuracy"] <= 1.0
    # each step removes exactly one group from one slot
    for a, b in zip(recs, recs[1:]):
        diff = [i for i, (x, y) in enumerate(zip(a["config"], b["config"])) if x != y]
        assert len(diff) == 1 and model.slots[diff[0]].name == b["removed_slot"]
    header, steps = read_trajectory(path)
    assert header["model"] == "lenet" and [s["config"] for s in steps] == [r["config"]
                                                                            for r in recs]


def test_accuracy_rule_commits_best_candidate(model, evaluator, hw):
    recs = progressive_search(model, evaluator, make_cost_fn(model, hw),
                              SearchOptions(max_steps=3))
    assert len(recs) == 4
    for r in recs[1:]:
        accs = [a for _, a in r["candidates"]]
        assert r["accuracy"] == max(accs)


def test_prefix_reuse_equals_full_evaluation(synth, calib):
    import copy

    import torch

    from dynpim.models import create_model

    torch.manual_seed(0)
    m = create_model("resnet20", num_classes=4, in_channels=3, image_size=8, width_mult=0.5)
    with torch.no_grad():
        for p in m.parameters():
            if p.ndim == 1:
                p.uniform_(0.5, 1.5)
    parent = SubnetConfig(w if i % 2 else m.slots[i].round(w * 0.75)
                          for i, w in enumerate(m.max_config().widths))
    cands = [c for _, c in candidates(parent, group_sizes(m.slots, 8), min_widths(m.slots, None))]
    x, y = synth.holdout_x, synth.holdout_y
    fast = HoldoutEvaluator(x, y, calib, batch_size=32)
    full = HoldoutEvaluator(x, y, calib, batch_size=32, reuse_prefix=False)
    m2 = copy.deepcopy(m)
    got = fast(m, cands, parent=parent)
    assert got == full(m2, cands, parent=parent)
    assert len(set(got)) > 2  # the candidates really differ
    assert m.banked_configs() == []                 # candidates' statistics not kept


def test_channels_last_evaluation_matches_and_leaves_the_layout(synth, calib):
    """NHWC evaluation (faster CPU convolutions) gives the accuracies of the usual layout, with
    and without prefix reuse, and hands the model back contiguous with its weights unchanged."""
    import torch

    from dynpim.models import create_model
    from dynpim.nn import DynamicConv2d

    torch.manual_seed(0)
    m = create_model("resnet20", num_classes=4, in_channels=3, image_size=8, width_mult=0.5)
    parent = m.max_config()
    cands = [c for _, c in candidates(parent, group_sizes(m.slots, 8), min_widths(m.slots, None))]
    x, y = synth.holdout_x, synth.holdout_y
    before = {k: v.clone() for k, v in m.state_dict().items()}
    layouts = []
    conv = [mod for mod in m.modules() if isinstance(mod, DynamicConv2d)][-1]
    conv.register_forward_pre_hook(lambda mod, inp: layouts.append(
        inp[0].is_contiguous(memory_format=torch.channels_last)))
    for reuse in (True, False):
        plain = HoldoutEvaluator(x, y, calib, batch_size=32, reuse_prefix=reuse)
        nhwc = HoldoutEvaluator(x, y, calib, batch_size=32, reuse_prefix=reuse,
                                channels_last=True)
        layouts.clear()
        got = nhwc(m, cands, parent=parent)
        assert layouts and all(layouts)  # the convolutions really ran in NHWC
        assert got == plain(m, cands, parent=parent)
    assert all(p.is_contiguous() for p in m.parameters())
    assert all(torch.equal(v, before[k]) for k, v in m.state_dict().items())


def _fake_setup(model, loss_per_group, cost_per_group):
    """Accuracy and cost linear in the removed groups of each slot (constructed case)."""
    groups = group_sizes(model.slots, 8)
    top = model.max_config().widths

    def removed(c):
        return np.array([(t - w) / g for t, w, g in zip(top, c.widths, groups)])

    def evaluate(m, configs, parent=None):
        return [float(1.0 - removed(c) @ loss_per_group) for c in configs]

    def cost_fn(configs):
        cost = np.array([100.0 - removed(c) @ cost_per_group for c in configs])
        return {"macs": np.array([model.macs(c) for c in configs]), "energy_j": cost,
                "latency_s": cost}

    return evaluate, cost_fn


def test_hardware_aware_prefers_cost_saving(model):
    # slot 0: loses 2 points per group but saves 10 cost units; slot 1: loses 1 point, saves 1;
    # slot 2: loses 3 points, saves 1.
    evaluate, cost_fn = _fake_setup(model, np.array([0.02, 0.01, 0.03]),
                                    np.array([10.0, 1.0, 1.0]))
    acc = progressive_search(model, evaluate, cost_fn, SearchOptions(max_steps=1))
    hwa = progressive_search(model, evaluate, cost_fn,
                             SearchOptions(objective="accuracy-per-cost", max_steps=1))
    assert acc[1]["removed_slot"] == model.slots[1].name   # least accuracy lost
    assert hwa[1]["removed_slot"] == model.slots[0].name   # least lost per cost saved


def test_choose_rules():
    # free removals (no accuracy lost) first, biggest saving first
    assert choose("accuracy-per-cost", 0.9, 100.0, [0.9, 0.91, 0.8], [99.0, 95.0, 50.0]) == 1
    # otherwise least loss per relative saving: 0.1/0.5 = 0.2 < 0.01/0.01 = 1
    assert choose("accuracy-per-cost", 0.9, 100.0, [0.89, 0.8], [99.0, 50.0]) == 1
    # a removal saving nothing is a last resort
    assert choose("accuracy-per-cost", 0.9, 100.0, [0.9, 0.5], [100.0, 90.0]) == 1
    assert choose("accuracy", 0.9, 100.0, [0.8, 0.85, 0.85], [90.0, 99.0, 80.0]) == 2


def test_resume_gives_same_trajectory(model, evaluator, hw, synth, tmp_path):
    import copy

    ft = make_finetuner(synth.train_x, synth.train_y, steps=3, batch_size=64)
    opts = SearchOptions(finetune_threshold=0.9, max_steps=8)
    m_a, m_b = copy.deepcopy(model), copy.deepcopy(model)
    full = progressive_search(m_a, evaluator, make_cost_fn(m_a, hw), opts,
                              trajectory_path=str(tmp_path / "a.jsonl"), finetune=ft)
    assert any(r["finetuned"] for r in full)
    path = str(tmp_path / "b.jsonl")
    part = progressive_search(m_b, evaluator, make_cost_fn(m_b, hw),
                              SearchOptions(finetune_threshold=0.9, max_steps=3),
                              trajectory_path=path, finetune=ft)
    assert len(part) == 4
    with open(path, "a") as f:
        f.write('{"type": "step", "step": 4, "conf')  # torn line from a killed run
    m_c = copy.deepcopy(model)                          # a fresh process: start weights only
    resumed = progressive_search(m_c, evaluator, make_cost_fn(m_c, hw), opts,
                                 trajectory_path=path, resume=True, finetune=ft)

    def strip(rs):
        return [{k: v for k, v in r.items() if k not in ("time_s", "type")} for r in rs]

    assert strip(resumed) == strip(full)
    _, steps = read_trajectory(path)
    assert strip(steps) == strip(full)
    with pytest.raises(ValueError, match="cannot resume"):
        progressive_search(m_c, evaluator, make_cost_fn(m_c, hw),
                           SearchOptions(objective="accuracy-per-cost"), trajectory_path=path,
                           resume=True, finetune=ft)


def test_options_validation():
    with pytest.raises(ValueError, match="objective"):
        SearchOptions(objective="speed")
    with pytest.raises(ValueError, match="group_divisor"):
        SearchOptions(group_divisor=0)
    with pytest.raises(ValueError, match="finetune_threshold"):
        SearchOptions(finetune_threshold=50)
    assert json.loads(json.dumps(SearchOptions().identity()))["cost"] == "energy"


def test_search_steps_round_trip_the_trajectory_lines(tmp_path):
    """SearchStep.to_dict gives back exactly the JSON a step line holds (key order included),
    for step 0, a plain step and a fine-tuned one; the record also reads like that dict."""
    import json

    from dynpim.search import SearchStep

    lines = [
        {"step": 0, "config": [4, 8], "key": "4-8", "accuracy": 0.9, "macs": 100,
         "energy_j": 1e-6, "latency_s": 2e-6, "removed_slot": None, "finetuned": False,
         "candidates": [], "time_s": 0.5},
        {"step": 1, "config": [2, 8], "key": "2-8", "accuracy": 0.8, "macs": 60,
         "energy_j": 5e-7, "latency_s": 1e-6, "removed_slot": "a", "removed_channels": 2,
         "finetuned": True, "accuracy_before_finetune": 0.7, "finetune_steps": 3,
         "candidates": [[0, 0.7], [1, 0.6]], "time_s": 1.5},
    ]
    for d in lines:
        step = SearchStep.from_dict({"type": "step", **d})
        assert json.dumps(step.to_dict()) == json.dumps(d)
        assert dict(step) == d and step["config"] == d["config"]
    rescored = SearchStep.from_dict(lines[1]).with_accuracy(0.85)
    assert rescored["accuracy"] == 0.85 and rescored["accuracy_search"] == 0.8
