"""``dynpim search --recipe papers``: the authors' whole pipeline on digits, tiny settings."""

import json

import pytest

from dynpim.cli import main
from dynpim.nn import load_configs
from dynpim.search import read_trajectory
from dynpim.train import load_checkpoint

TINY = ["--holdout", "100", "--calib-batches", "1", "--calib-batch-size", "64", "--quiet",
        "--threads", "1"]


def test_papers_recipe_runs_the_whole_pipeline(tmp_path):
    out = tmp_path / "p"
    assert main(["search", "--recipe", "papers", "--model", "lenet", "--width-mult", "0.5",
                 "--dataset", "digits", "--pretrain-epochs", "1", "--retrain-epochs", "1",
                 "--max-steps", "4", "--finetune-threshold", "0.99", "--finetune-steps", "4",
                 "--finetune-check-every", "2", "--out", str(out), *TINY]) == 0
    pre = load_checkpoint(str(out / "pretrained" / "checkpoint"))
    assert pre.meta["train_config"]["mode"] == "individual"       # individually pre-trained
    header, steps = read_trajectory(str(out / "trajectory.jsonl"))
    assert header["meta"]["ranking"] == "l1" and header["meta"]["recipe"] == "papers"
    assert header["meta"]["finetune_optimizer"] == "sgd"
    assert header["meta"]["finetune_until"] == "recovered"
    tuned = [s for s in steps if s["finetuned"]]
    assert tuned and all(1 <= s["finetune_steps"] <= 4 for s in tuned)   # capped
    chosen = json.loads((out / "chosen.json").read_text())
    assert chosen["filter"] == "local" and chosen["rescore"] == "final"
    # re-scored on the final weights: the search-time accuracy is kept beside it
    assert all("accuracy_search" in c for c in chosen["configs"])
    assert len(load_configs(str(out / "chosen.json"))) == len(chosen["configs"]) >= 1
    re = load_checkpoint(str(out / "retrained" / "checkpoint"))
    assert re.meta["train_config"]["sampling"] == "nonuniform"    # dynamic network retrained


def test_ranking_a_dynamic_checkpoint_needs_a_flag(trained, tmp_path, capsys):
    _, ck = trained
    base = ["search", "--checkpoint", ck, "--out", str(tmp_path / "s"), "--ranking", "l1",
            "--max-steps", "1", *TINY[:-2]]
    base[base.index("100")] = "64"
    assert main(base) == 2
    assert "--allow-dynamic-ranking" in capsys.readouterr().err
    assert main([*base, "--allow-dynamic-ranking"]) == 0
    assert "warning" in capsys.readouterr().err


def test_clamps_are_errors_or_warnings(trained, tmp_path, capsys):
    _, ck = trained
    base = ["search", "--checkpoint", ck, "--out", str(tmp_path / "s"), "--max-steps", "1",
            "--holdout", "64", "--calib-batches", "1", "--overwrite"]  # one --out, three runs
    assert main([*base, "--min-ratio", "0.01"]) == 2
    assert "smallest valid width" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="group divisor 64"):
        assert main([*base, "--group-divisor", "64"]) == 0
    assert "warning: slot" in capsys.readouterr().err


def test_papers_recipe_needs_a_model_or_checkpoint(tmp_path, capsys):
    assert main(["search", "--recipe", "papers", "--out", str(tmp_path)]) == 2
    assert main(["search", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--model and --dataset" in err and "--checkpoint is required" in err


def test_a_killed_pretraining_is_resumed_not_used(tmp_path, monkeypatch):
    """Every epoch saves a checkpoint, so a pipeline killed with its session leaves one: the
    pre-training continues from it; only a finished one is used as it is."""
    from dynpim.stages import recipes
    from dynpim.stages.search import SearchRunOptions

    calls = []

    class Done:
        checkpoint = "trained"

    monkeypatch.setattr(recipes, "train",
                        lambda cfg, log=None, resume=False: calls.append(resume) or Done())
    opts = SearchRunOptions(recipe="papers", model="lenet", dataset="digits", pretrain_epochs=1,
                            out=str(tmp_path))
    for state, expect in (("none", "trained"), ("partial", "trained"),
                          ("finished", str(tmp_path / "pretrained" / "checkpoint"))):
        monkeypatch.setattr(recipes, "training_state", lambda path, s=state: s)
        assert recipes.pretrain(opts, log=None) == expect
    assert calls == [False, True]  # new, resumed; the finished one is not trained again


@pytest.mark.parametrize("channels_last", [False, True])
def test_channels_last_reaches_the_pretraining(tmp_path, monkeypatch, channels_last):
    """``--channels-last`` (NHWC, faster CPU convs) is passed on to the papers' trainings."""
    from dynpim.stages import recipes
    from dynpim.stages.search import SearchRunOptions

    seen = []

    class Done:
        checkpoint = "trained"

    monkeypatch.setattr(recipes, "train",
                        lambda cfg, log=None, resume=False: seen.append(cfg) or Done())
    monkeypatch.setattr(recipes, "training_state", lambda path: "none")
    opts = SearchRunOptions(recipe="papers", model="lenet", dataset="digits", pretrain_epochs=1,
                            out=str(tmp_path), channels_last=channels_last)
    recipes.pretrain(opts, log=None)
    assert [c.channels_last for c in seen] == [channels_last]


def test_noise_pretraining_runs_in_nhwc_and_saves_contiguous(tmp_path, monkeypatch):
    """``channels_last`` also covers the from-scratch noise pre-training: the convolutions see
    NHWC inputs, the scores match the NCHW run up to rounding, the checkpoint is contiguous."""
    import torch

    from dynpim.nn.layers import DynamicConv2d
    from dynpim.search import ranking
    from dynpim.stages import recipes
    from dynpim.stages.search import SearchRunOptions

    layouts: list[bool] = []
    real = ranking.train_with_noise

    def spy(model, batches, **kw):
        def hook(mod, args):  # (a 1-channel input is both layouts: not counted)
            if args[0].shape[1] > 1:
                layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)
                               and not args[0].is_contiguous())
        hooks = [m.register_forward_pre_hook(hook) for m in model.modules()
                 if isinstance(m, DynamicConv2d)]
        try:
            return real(model, batches, **kw)
        finally:
            for h in hooks:
                h.remove()

    monkeypatch.setattr("dynpim.search.train_with_noise", spy)
    scores, weights = {}, {}
    for nhwc in (False, True):
        layouts.clear()
        out = tmp_path / str(nhwc)
        opts = SearchRunOptions(recipe="papers", ranking="noise", model="lenet", width_mult=0.5,
                                dataset="digits", holdout=64, pretrain_epochs=1, batch_size=64,
                                out=str(out), channels_last=nhwc)
        ck = load_checkpoint(recipes.pretrain(opts, log=None))
        assert layouts and set(layouts) == {nhwc}
        scores[nhwc] = {k: torch.tensor(v) for k, v in ck.meta["noise_scores"].items()}
        weights[nhwc] = {k: v for k, v in ck.model.state_dict().items() if v.dim() == 4}
        assert weights[nhwc] and all(v.is_contiguous() for v in weights[nhwc].values())
    assert scores[True].keys() == scores[False].keys()
    for k in scores[False]:
        torch.testing.assert_close(scores[True][k], scores[False][k], atol=1e-4, rtol=1e-3)
