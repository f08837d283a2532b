"""search_fmnist's merge of seeds: target judged against the uniform_discrete control on the
mean over seeds, mean ± sd per width (synthetic curves, no training)."""

import argparse
import os

import numpy as np
import pytest
import search_fmnist as sf


def curve(accs, energies=(1.0, 2.0, 3.0, 4.0), val=None):
    val = accs if val is None else val
    return [{"config": [4 * (i + 1)], "accuracy": a, "validation_accuracy": v, "energy_j": e,
             "latency_s": e, "macs": i} for i, (a, v, e) in enumerate(zip(accs, val, energies))]


def test_envelope_picks_on_validation_and_reports_test():
    # the cost-3 point is best on test but worst on validation: never picked
    pts = curve([.80, .70, .99, .85], val=[.80, .90, .50, .95])
    grid = np.array([0.5, 1.0, 2.5, 3.5, 4.0])
    env = sf.envelope(pts, "energy_j", grid)
    assert np.isnan(env[0])
    assert list(env[1:]) == [.80, .70, .70, .85]


def run(seed, uni, disc, non):
    return {"seed": seed, "curves": {"uniform": curve(uni), "uniform_discrete": curve(disc),
                                     "nonuniform": curve(non), "nonuniform_accuracy_rule":
                                     curve(non)},
            "time_s": {"total_s": 1.0}, "search_steps": 3, "test_images": 100,
            "train_images": 900}


def test_target_is_judged_against_the_discrete_control_on_the_mean():
    # the searched network beats the any-width network by 2 points but loses 0.5 to the control
    runs = [run(0, [.80, .82, .84, .86], [.825, .845, .865, .885], [.82, .84, .86, .88]),
            run(1, [.80, .82, .84, .86], [.825, .845, .865, .885], [.82, .84, .86, .88])]
    data, md = sf.summarise(runs)
    assert data["target_against"] == "uniform_discrete" and data["target_met"] is False
    ctrl = data["stats"]["nonuniform_vs_uniform_discrete"]["energy_j"]
    assert ctrl["area_points"] == pytest.approx(-0.5)
    assert data["stats"]["nonuniform_vs_uniform"]["energy_j"]["area_points"] == pytest.approx(2.0)
    assert "NOT met" in md and data["seeds"] == [0, 1]
    assert data["accuracy_split"]["reported top-1"] == "test"


def test_mean_over_seeds_decides_and_sd_is_reported():
    # seed 0: +1.0 everywhere, seed 1: +0.2 everywhere -> mean +0.6 >= 0.5: met
    runs = [run(0, [.80] * 4, [.80, .81, .82, .83], [.81, .82, .83, .84]),
            run(1, [.80] * 4, [.80, .81, .82, .83], [.802, .812, .822, .832])]
    data, _ = sf.summarise(runs)
    ctrl = data["stats"]["nonuniform_vs_uniform_discrete"]["energy_j"]
    assert ctrl["cheapest_quarter_mean_gap_points"] == pytest.approx(0.6)
    assert ctrl["cheapest_quarter_mean_gap_points_sd"] == pytest.approx(np.std([1.0, 0.2],
                                                                               ddof=1))
    assert data["target_met"] is True
    w = data["per_width"]["uniform_discrete"][1]
    assert w["mean"] == pytest.approx(81.0) and w["sd"] == pytest.approx(0.0)
    assert len(data["per_width"]["uniform"]) == 4


def test_seed_list_and_per_seed_run_dirs():
    assert sf.seed_list("0,1, 2") == [0, 1, 2]
    with pytest.raises(argparse.ArgumentTypeError):
        sf.seed_list("0,0")
    a = sf.parse(["--seeds", "3,4", "--runs-dir", "/tmp/x"])
    assert a.seeds == [3, 4]
    b = sf.for_seed(a, 4)
    assert b.seed == 4 and b.seed_runs_dir == "/tmp/x/seed4" and a.runs_dir == "/tmp/x"
    assert sf.parse(["--seed", "7"]).seeds == [7] and sf.parse([]).seeds == [0]


def test_jobs_reuse_finished_work_and_resume_killed_trainings(tmp_path, monkeypatch):
    """A seed's pipeline can span sessions: a finished training (done.json) or search
    (chosen.json) is not run again; a training with a checkpoint resumes from it."""
    a = sf.for_seed(sf.parse(["--runs-dir", str(tmp_path), "--quick"]), 0)
    calls = []
    monkeypatch.setattr(sf, "splits_for", lambda a: None)
    monkeypatch.setattr(sf, "train", lambda cfg, splits, resume: calls.append((cfg.out, resume)))
    sf.job_train(a, "fresh", None)                      # nothing there: a new training
    (tmp_path / "seed0" / "killed" / "checkpoint").mkdir(parents=True)
    (tmp_path / "seed0" / "killed" / "checkpoint" / "meta.json").write_text("{}")
    sf.job_train(a, "killed", None)                     # a checkpoint: resumed
    assert calls == [(str(tmp_path / "seed0" / "fresh"), False),
                     (str(tmp_path / "seed0" / "killed"), True)]
    assert (tmp_path / "seed0" / "killed" / "done.json").is_file()
    sf.job_train(a, "killed", None)                     # done.json: reused, not trained again
    assert len(calls) == 2
    a.recipe = {"lr": 0.05}                             # another recipe: refused, not mixed
    with pytest.raises(SystemExit, match="use another --runs-dir"):
        sf.job_train(a, "killed", None)
    (tmp_path / "seed0" / "search_nonuniform").mkdir()
    (tmp_path / "seed0" / "search_nonuniform" / "chosen.json").write_text("[]")
    sf.job_search(a, "nonuniform", "accuracy-per-cost")  # would fail without a checkpoint


def test_recipes_from_the_validation_ablation_set_every_training(tmp_path):
    """--recipes: the trainings use the ablation's kept dynamic recipe, not --lr."""
    abl = os.path.join(os.path.dirname(sf.__file__), "results", "sandwich_ablation.json")
    a = sf.for_seed(sf.parse(["--recipes", abl, "--lr", "0.3", "--runs-dir", str(tmp_path)]), 0)
    kept = sf.load_recipes(abl)["dynamic"]
    cfg = sf.train_cfg(a, str(tmp_path / "x"))
    assert (cfg.lr, cfg.weight_decay, cfg.subnet_loss) == \
        (kept["lr"], kept["weight_decay"], kept["subnet_loss"]) and cfg.lr != 0.3
    assert sf.train_cfg(sf.for_seed(sf.parse(["--lr", "0.3"]), 0), "o").lr == 0.3

