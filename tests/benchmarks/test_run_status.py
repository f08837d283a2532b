"""benchmarks/run_status.py: progress and remaining compute of the trainings under a folder."""

import json

import pytest
import run_status


def _run(root, name, step, history, epochs=4, result=False):
    ck = root / name / "checkpoint"
    ck.mkdir(parents=True)
    (ck / "meta.json").write_text(json.dumps({"step": step, "history": history,
                                              "train_config": {"epochs": epochs}}))
    if result:
        (root / name / "result.json").write_text("{}")
    return root / name


def test_progress_and_time_left_from_the_timed_epochs(tmp_path):
    hist = [{"epoch": 1, "step": 100, "time_s": 600.0},
            {"epoch": 2, "step": 200, "time_s": 900.0, "val_top1": {"4-8": 80.04, "8-16": 85.0}}]
    s = run_status.run_status(_run(tmp_path, "seed0/joint", 250, hist))
    assert (s["step"], s["total_steps"], s["epochs_done"], s["done"]) == (250, 400, 2, False)
    assert s["left_s"] == pytest.approx(150 / 100 * 750.0)
    assert run_status.line(s, tmp_path) == (
        "seed0/joint: step 250/400, epoch 2/4 finished, 12 min per epoch, about 0.3 h left at "
        "that rate; last epoch's validation top-1 (%, per eval config) 80.0 / 85.0")


def test_done_when_every_step_ran_or_the_result_is_cached_and_unknown_before_an_epoch(tmp_path):
    hist = [{"epoch": 1, "step": 100, "time_s": 60.0}]
    a = run_status.run_status(_run(tmp_path, "a", 100, hist, epochs=1))
    assert a["done"] and run_status.line(a, tmp_path) == "a: done (1 epochs)"
    assert run_status.run_status(_run(tmp_path, "b", 50, hist, result=True))["done"]
    fresh = run_status.run_status(_run(tmp_path, "c", 30, []))
    assert fresh["total_steps"] is None and not fresh["done"]
    assert run_status.line(fresh, tmp_path) == "c: step 30/?, epoch 0/4 finished"
    assert [p.name for p in run_status.find_runs(tmp_path)] == ["a", "b", "c"]


def test_cli_lists_every_run_and_refuses_a_missing_folder(tmp_path, capsys):
    _run(tmp_path, "x", 5, [])
    run_status.main([str(tmp_path)])
    assert capsys.readouterr().out == "x: step 5/?, epoch 0/4 finished\n"
    with pytest.raises(SystemExit, match="no such folder"):
        run_status.main([str(tmp_path / "nope")])
