"""The authors' local filter, keep-all, and fine-tuning until recovery."""

import pytest

from dynpim.search import decay_split, filter_trajectory, local_filter, make_finetuner


def _traj(accs):
    """Trajectory records, largest (most MACs) first."""
    return [{"config": [len(accs) - i], "accuracy": a, "macs": 100 - i, "energy_j": 1.0 - i / 100}
            for i, a in enumerate(accs)]


def test_local_filter_drops_only_when_the_next_smaller_is_slightly_more_accurate():
    recs = _traj([0.90, 0.92, 0.91, 0.40, 0.80, 0.79, 0.30])
    # 0 -> 1: smaller more accurate by 2 points -> drop 0; 1 -> 2: less accurate -> keep;
    # 3 -> 4: +40 points (a fine-tuning jump) -> keep 3; the last one is always kept
    assert local_filter(recs, 0.10) == [1, 2, 3, 4, 5, 6]
    assert local_filter(recs, 0.50) == [1, 2, 4, 5, 6]


def test_filter_rules_keep_all_local_and_pareto():
    recs = _traj([0.90, 0.92, 0.91, 0.40, 0.80, 0.79, 0.30])
    keep_all = filter_trajectory(recs, "keep-all", cost="macs")
    assert [r["macs"] for r in keep_all] == sorted(r["macs"] for r in recs)  # cheapest first
    local = filter_trajectory(recs, "local", cost="macs")
    assert len(local) == 6 and local[0]["macs"] == 94
    pareto = filter_trajectory(recs, "pareto", k=8, cost="macs")
    assert all(r["accuracy"] != 0.40 for r in pareto)        # dominated by a cheaper config
    with pytest.raises(ValueError, match="filter must be one of"):
        filter_trajectory(recs, "best")


def test_finetune_until_recovered_stops_early_and_is_capped(trained, synth):
    model, _ = trained
    calls = []

    def recover_after(n):
        def recover(m, c):
            calls.append(c)
            return len(calls) >= n
        return recover

    cfg = model.max_config()
    ft = make_finetuner(synth.train_x, synth.train_y, steps=10, batch_size=64, optimizer="sgd",
                        recover=recover_after(2), check_every=3)
    ft(model, cfg, 1)
    assert ft.last_steps == 6 and len(calls) == 2            # recovered at the second check
    calls.clear()
    ft = make_finetuner(synth.train_x, synth.train_y, steps=5, batch_size=64,
                        recover=recover_after(100), check_every=3)
    ft(model, cfg, 1)
    assert ft.last_steps == 5                                # never recovered: the cap
    with pytest.raises(ValueError, match="optimizer"):
        make_finetuner(synth.train_x, synth.train_y, optimizer="adam")


def test_finetune_in_channels_last_trains_the_same_and_hands_back_the_layout(trained, synth):
    """NHWC fine-tuning (faster CPU convolutions) takes the same steps as the usual layout, up
    to float rounding, runs its convolutions in NHWC, and leaves the model contiguous."""
    import copy

    import torch

    from dynpim.nn import DynamicConv2d

    model, _ = trained
    cfg = model.max_config()
    out = {}
    for cl in (False, True):
        m = copy.deepcopy(model)
        layouts = []
        conv = [mod for mod in m.modules() if isinstance(mod, DynamicConv2d)][-1]
        conv.register_forward_pre_hook(lambda mod, inp, seen=layouts: seen.append(
            inp[0].is_contiguous(memory_format=torch.channels_last)))
        ft = make_finetuner(synth.train_x, synth.train_y, steps=4, batch_size=64,
                            recover=lambda m, c: False, check_every=2, channels_last=cl)
        ft(m, cfg, 1)
        assert ft.last_steps == 4 and len(layouts) == 4 and all(layouts) == cl
        assert all(p.is_contiguous() for p in m.parameters())
        out[cl] = m.state_dict()
    assert any(not torch.equal(v, model.state_dict()[k]) for k, v in out[False].items())
    for k, v in out[False].items():
        torch.testing.assert_close(out[True][k], v, rtol=1e-4, atol=1e-5)

def test_depthwise_convs_get_no_weight_decay():
    from dynpim.models import create_model

    m = create_model("mobilenet_v1", in_channels=1, image_size=8)
    decay, rest = decay_split(m)
    dw = [mod.weight for mod in m.modules() if getattr(mod, "depthwise", False)]
    assert dw and all(any(w is p for p in rest) for w in dw)
    assert not any(any(w is p for p in decay) for w in dw)

