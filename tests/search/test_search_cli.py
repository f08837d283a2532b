import json

import pytest

from dynpim.cli import main
from dynpim.nn import load_configs
from dynpim.runtime import OperatingTable
from dynpim.search import read_trajectory


def _search(ck, out, *extra):
    return main(["search", "--checkpoint", ck, "--out", str(out), "--holdout", "64",
                 "--calib-batches", "2", "--calib-batch-size", "64", "--k", "4", "--quiet",
                 *extra])


def test_search_resume_and_table(trained, tmp_path, capsys):
    _, ck = trained
    out = tmp_path / "s"
    assert _search(ck, out, "--max-steps", "2", "--objective", "accuracy-per-cost") == 0
    _, steps = read_trajectory(str(out / "trajectory.jsonl"))
    assert len(steps) == 3
    assert _search(ck, out, "--objective", "accuracy-per-cost", "--resume") == 0
    header, steps = read_trajectory(str(out / "trajectory.jsonl"))
    assert header["options"]["objective"] == "accuracy-per-cost"
    assert header["meta"]["ranking"] == "none"  # auto: a dynamic checkpoint keeps its order
    assert header["meta"]["accuracy_split"] == "validation"
    assert steps[-1]["config"] == [s[2] for s in header["slots"]]  # reached the minimum
    chosen = json.loads((out / "chosen.json").read_text())
    assert chosen["accuracy_split"] == "validation"
    cfgs = load_configs(str(out / "chosen.json"))
    assert 2 <= len(cfgs) <= 4 and len(chosen["configs"]) == len(cfgs)
    assert cfgs[-1].widths == tuple(steps[0]["config"])    # largest kept, cheapest first
    energies = [c["energy_j"] for c in chosen["configs"]]
    assert energies == sorted(energies)

    table = tmp_path / "table.json"
    assert main(["table", "--checkpoint", str(out / "searched"), "--configs",
                 str(out / "chosen.json"), "--active-levels", "64,256", "--calib-batches", "2",
                 "--out", str(table)]) == 0
    t = OperatingTable.load(table)
    assert {p.active_subarrays for p in t} <= {64, 256}
    assert t.meta["model"]["name"] == "lenet"
    assert "operating table" in capsys.readouterr().out
    # no --split given: the table selects on validation, and carries test accuracy to report
    assert t.meta["accuracy_split"] == "validation" and t.meta["test_accuracy_split"] == "test"
    assert all(p.test_accuracy is not None for p in t)


def test_table_defaults_to_validation_and_refuses_test(trained, tmp_path, capsys):
    _, ck = trained
    from dynpim import pim
    from dynpim.search import HoldoutEvaluator
    from dynpim.stages import build_operating_table, open_run
    from dynpim.train import calibration_batches

    base = ["table", "--checkpoint", ck, "--active-levels", "64", "--calib-batches", "2",
            "--calib-batch-size", "64", "--all-points"]
    out = tmp_path / "t.json"
    assert main([*base, "--out", str(out)]) == 0
    t = OperatingTable.load(out)
    assert t.meta["accuracy_split"] == "validation"
    # the accuracies are exactly the validation ones (same calibration batches, recomputed)
    opened = open_run(ck)
    ckpt, splits = opened.checkpoint, opened.splits
    calib = calibration_batches(splits, batch_size=64, num_batches=2)
    cfgs = t.configs()
    ev = HoldoutEvaluator(splits.validation_x, splits.validation_y, calib, batch_size=1000,
                          keep_stats=True)
    ref = build_operating_table(ckpt.model, cfgs, pim.load_preset("sot-mram"), ev, levels=[64],
                                pareto=False)
    assert {p.key: p.accuracy for p in t} == {p.key: p.accuracy for p in ref}
    capsys.readouterr()
    # "holdout" is the old name of validation and gives the same table
    old = tmp_path / "h.json"
    assert main([*base, "--split", "holdout", "--out", str(old)]) == 0
    assert [p.accuracy for p in OperatingTable.load(old)] == [p.accuracy for p in t]
    capsys.readouterr()
    # selecting on test is refused with a message naming the option; nothing is written
    bad = tmp_path / "bad.json"
    assert main([*base, "--split", "test", "--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "--split test" in err and "validation" in err and not bad.exists()


def test_search_rejects_bad_input(trained, tmp_path, capsys):
    _, ck = trained
    assert _search(ck, tmp_path / "x", "--holdout", "100000") == 2
    assert "--holdout" in capsys.readouterr().err
    assert main(["search", "--checkpoint", str(tmp_path / "none"), "--out",
                 str(tmp_path / "y")]) == 2
    with pytest.raises(SystemExit):
        main(["search", "--checkpoint", ck, "--out", "o", "--objective", "speed"])


def test_search_with_noise_ranking(trained, tmp_path):
    _, ck = trained
    out = tmp_path / "n"
    assert _search(ck, out, "--ranking", "noise", "--allow-dynamic-ranking", "--max-steps", "1",
                   "--finetune-threshold",
                   "0.99", "--finetune-steps", "2") == 0
    header, steps = read_trajectory(str(out / "trajectory.jsonl"))
    assert header["meta"]["ranking"] == "noise" and steps[1]["finetuned"]
    assert (out / "ranked" / "meta.json").is_file()


def test_auto_ranking():
    from dynpim.cli.search import RECIPE_NAMES
    from dynpim.stages.recipes import RECIPES
    from dynpim.stages.search import resolve_ranking

    assert RECIPE_NAMES == tuple(RECIPES)  # the CLI spells them without importing torch

    assert resolve_ranking({"mode": "dynamic", "sampling": "uniform"}) == "none"
    assert resolve_ranking({"mode": "individual", "sampling": "uniform"}) == "l1"
    assert resolve_ranking({"mode": "dynamic", "sampling": "fixed"}) == "l1"
    assert resolve_ranking({}) == "l1"
