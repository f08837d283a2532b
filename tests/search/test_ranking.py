import torch

from dynpim.data import iterate_batches
from dynpim.nn import calibrate_bn
from dynpim.search import NoiseInjection, apply_ranking, rank_channels, train_with_noise


def _max_logits(model, x, calib):
    cfg = model.max_config()
    calibrate_bn(model, cfg, calib)
    model.eval()
    with torch.no_grad(), model.subnet(cfg):
        return model(x)


def test_noise_only_in_training(model, synth):
    x = synth.test_x[:16]
    model.eval()
    calibrate_bn(model, model.max_config(), [synth.train_x[:64]])
    with torch.no_grad():
        ref = model(x)
    inj = NoiseInjection(model)
    for p in inj.alpha_parameters():
        p.data.fill_(1.0)
    with torch.no_grad():
        assert torch.equal(model(x), ref)          # eval: no noise
        model.train()
        a, b = model(x), model(x)
        assert not torch.equal(a, b)               # training: fresh noise per forward
    inj.remove()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), ref)          # weights restored untouched


def test_noise_ranking_learns_alpha_and_reorders(model, synth, calib):
    x = synth.test_x[:32]
    before = _max_logits(model, x, calib)
    gen = torch.Generator().manual_seed(0)

    def batches(epoch):
        return iterate_batches(synth.train_x, synth.train_y, 64, shuffle=True, generator=gen)

    scores = train_with_noise(model, batches, epochs=2, lr=0.05)
    assert set(scores) == {s.name for s in model.slots}
    for s in model.slots:
        assert scores[s.name].shape == (s.max_channels,)
        assert (scores[s.name] != 0).any()          # alpha moved away from its init 0
    assert not any("alpha" in n for n, _ in model.named_parameters())  # parametrization gone
    tuned = _max_logits(model, x, calib)
    assert not torch.allclose(tuned, before)        # the short fine-tune changed the weights
    perms = apply_ranking(model, rank_channels(model, "noise", noise_scores=scores))
    for s in model.slots:
        assert torch.equal(perms[s.name], torch.argsort(scores[s.name], descending=True,
                                                        stable=True))
    after = _max_logits(model, x, calib)
    assert torch.allclose(after, tuned, atol=1e-4)  # reordering keeps the max-width function


def test_l1_ranking_puts_largest_first(model):
    apply_ranking(model, rank_channels(model, "l1"))
    scores = rank_channels(model, "l1")
    for s in model.slots:
        sc = scores[s.name]
        assert torch.all(sc[:-1] >= sc[1:] - 1e-6)


def test_unknown_ranking(model):
    import pytest

    with pytest.raises(ValueError, match="unknown ranking"):
        rank_channels(model, "random")
    with pytest.raises(ValueError, match="noise_scores"):
        rank_channels(model, "noise")
