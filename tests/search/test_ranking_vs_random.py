"""Rankings that earn their place: keeping the channels L1 / BN-|gamma| rank on top beats keeping
a random subset and beats keeping the bottom of the same ranking (fixed seeds, a LeNet trained
for a few seconds at full width on digits, BN recalibrated for every pruned config)."""

import copy
import json

import pytest
import torch

from dynpim.cli import main
from dynpim.data import iterate_batches, load_dataset
from dynpim.nn import SubnetConfig, calibrate_bn
from dynpim.search import apply_ranking, rank_channels, read_trajectory
from dynpim.train import TrainConfig, calibration_batches, evaluate, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def full_model(digits, tmp_path_factory):
    """The papers' starting point: one full-width model trained individually."""
    cfg = TrainConfig(model="lenet", dataset="digits", mode="individual", width=1.0, epochs=4,
                      batch_size=64, lr=0.05, progress=False, calib_batches=2,
                      eval_widths=(1.0,), out=str(tmp_path_factory.mktemp("rank") / "run"))
    return train(cfg, splits=digits).model


def _accuracy(model, digits, ratio):
    cfg = SubnetConfig.uniform(model, ratio)
    calibrate_bn(model, cfg, calibration_batches(digits, batch_size=128, num_batches=4))
    return evaluate(model, cfg, iterate_batches(digits.validation_x, digits.validation_y, 1000))


def _reordered(model, scores):
    m = copy.deepcopy(model)
    apply_ranking(m, scores)
    return m


@pytest.mark.parametrize("criterion", ["l1", "bn"])
@pytest.mark.parametrize("ratio", [0.5, 0.75])
def test_ranking_keep_top_beats_random_and_keep_bottom(full_model, digits, criterion, ratio):
    scores = rank_channels(full_model, criterion)
    top = _accuracy(_reordered(full_model, scores), digits, ratio)
    bottom = _accuracy(_reordered(full_model, {k: -v for k, v in scores.items()}), digits, ratio)
    random = []
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        order = {s.name: torch.rand(s.max_channels, generator=g) for s in full_model.slots}
        random.append(_accuracy(_reordered(full_model, order), digits, ratio))
    assert top > max(random), (criterion, ratio, top, random)
    assert top > bottom, (criterion, ratio, top, bottom)


def test_papers_recipe_noise_ranking_trains_with_noise_from_scratch(tmp_path):
    out = tmp_path / "n"
    assert main(["search", "--recipe", "papers", "--ranking", "noise", "--model", "lenet",
                 "--width-mult", "0.5", "--dataset", "digits", "--pretrain-epochs", "1",
                 "--retrain-epochs", "0", "--max-steps", "1", "--holdout", "64",
                 "--calib-batches", "1", "--quiet", "--out", str(out)]) == 0
    meta = json.loads((out / "pretrained" / "checkpoint" / "meta.json").read_text())
    assert set(meta["noise_scores"]) == {s[0] for s in
                                         read_trajectory(str(out / "trajectory.jsonl"))[0]["slots"]}
    assert meta["train_config"]["mode"] == "individual"
    assert read_trajectory(str(out / "trajectory.jsonl"))[0]["meta"]["ranking"] == "noise"
    assert not (out / "retrained").exists()               # --retrain-epochs 0 skips it
