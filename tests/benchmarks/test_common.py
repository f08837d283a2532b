"""Provenance helpers of the benchmarks: machine facts, dirty trees, quick runs, best-of-k."""

import json
import os
import subprocess

import _common
import pytest


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A throw-away git repo standing in for the project, with one committed result."""
    root = tmp_path / "repo"
    results = root / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "speed.json").write_text('{"old": true}')
    (root / "code.py").write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    monkeypatch.setattr(_common, "ROOT", root)
    monkeypatch.setattr(_common, "RESULTS", results)
    monkeypatch.setattr(_common, "SCRATCH", root / "runs" / "benchmarks")
    monkeypatch.setattr(_common, "_STATE", {})
    monkeypatch.delenv("DYNPIM_ALLOW_DIRTY", raising=False)
    monkeypatch.setattr("sys.argv", ["speed.py"])
    return root


def test_machine_info_records_load_cores_and_affinity(repo):
    m = _common.machine_info()
    assert m["cpu_cores"] == os.cpu_count()
    assert m["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert len(m["load_avg_1_5_15min"]) == 3
    assert m["dirty"] is False


def test_dirty_tree_refused_unless_allowed_then_marked(repo, monkeypatch):
    (repo / "code.py").write_text("x = 2\n")
    with pytest.raises(_common.DirtyTreeError, match="--allow-dirty") as e:
        _common.write_result("fresh", {"v": 1})
    assert "code.py" in str(e.value)
    assert not (repo / "benchmarks" / "results" / "fresh.json").exists()
    monkeypatch.setattr(_common, "_STATE", {})
    monkeypatch.setattr("sys.argv", ["speed.py", "--allow-dirty"])
    path = _common.write_result("fresh", {"v": 1})
    data = json.loads(path.read_text())
    assert data["dirty"] is True and data["machine"]["dirty"] is True and data["v"] == 1


def test_clean_tree_records_not_dirty(repo):
    path = _common.write_result("fresh", {"v": 2})
    assert path == repo / "benchmarks" / "results" / "fresh.json"
    assert json.loads(path.read_text())["dirty"] is False


def test_quick_run_never_overwrites_a_committed_result(repo):
    committed = repo / "benchmarks" / "results" / "speed.json"
    path = _common.write_result("speed", {"v": 3}, quick=True)
    assert path == repo / "runs" / "benchmarks" / "speed.json"
    assert json.loads(path.read_text())["quick"] is True
    assert json.loads(committed.read_text()) == {"old": True}
    with pytest.raises(ValueError, match="committed result"):
        _common.write_result("speed", {"v": 3}, partial=True, path=committed)
    # a full run may replace it; a quick run to an uncommitted path goes where it is told
    other = repo / "elsewhere.json"
    assert _common.write_result("speed", {"v": 4}, quick=True, path=other) == other
    assert _common.write_result("speed", {"v": 5}) == committed
    assert json.loads(committed.read_text())["v"] == 5


def test_best_of_keeps_the_minimum_and_each_rounds_load():
    vals = iter([3.0, 1.0, 2.0])
    r = _common.best_of(lambda: next(vals), 3)
    assert r["best"] == 1.0 and r["rounds"] == [3.0, 1.0, 2.0] and r["k"] == 3
    assert len(r["load_1min"]) == 3
    with pytest.raises(ValueError, match="k >= 1"):
        _common.best_of(lambda: 1.0, 0)


def test_part_stamp_keeps_each_parts_time(tmp_path):
    data = {"command": "python x.py --only a",
            "machine": {"date_utc": "2026-01-02T03:04:05Z", "git_commit": "abc", "dirty": False,
                        "load_avg_1_5_15min": [1.0, 1.0, 1.0]}}
    s = _common.part_stamp(tmp_path / "a.json", data)
    assert s["date_utc"] == "2026-01-02T03:04:05Z" and s["git_commit"] == "abc"
    assert s["command"] == "python x.py --only a" and s["dirty"] is False


def test_cached_run_reuses_and_refuses_another_recipe(tmp_path):
    path = tmp_path / "result.json"
    assert _common.cached_run(str(path), {"lr": 0.1}) is None
    path.write_text(json.dumps({"top1": 90.0, "recipe": {"lr": 0.1}}))
    assert _common.cached_run(str(path), {"lr": 0.1})["top1"] == 90.0
    with pytest.raises(SystemExit, match="use another --runs-dir"):
        _common.cached_run(str(path), {"lr": 0.2})


def test_compute_time_sums_every_session_of_a_resumed_run(tmp_path):
    """A training resumed in a later session keeps its earlier epochs' times; a search its
    earlier steps'; the final line and non-step records do not count."""
    import json

    (tmp_path / "uniform").mkdir()
    (tmp_path / "uniform" / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in (
        {"epoch": 1, "time_s": 600.0}, {"epoch": 2, "time_s": 650.5},
        {"final": True, "time_s": 99.0})) + "\n")
    (tmp_path / "search_x").mkdir()
    (tmp_path / "search_x" / "trajectory.jsonl").write_text("\n".join(json.dumps(r) for r in (
        {"type": "start", "time_s": 5.0}, {"type": "step", "time_s": 10.0},
        {"type": "step", "time_s": 2.5})) + "\n")
    assert _common.compute_seconds(str(tmp_path / "uniform")) == 1250.5
    assert _common.compute_seconds(str(tmp_path / "search_x")) == 12.5
    (tmp_path / "smoke").mkdir()  # stopped by --max-steps inside its first epoch
    assert _common.compute_seconds(str(tmp_path / "smoke")) == 0.0
    with pytest.raises(FileNotFoundError, match="missing"):
        _common.compute_seconds(str(tmp_path / "missing"))


def test_run_commits_names_every_session_in_order(tmp_path):
    """``env.json`` sessions give the commits, repeats dropped; an env.json from before
    sessions were kept gives its one commit."""
    import json

    (tmp_path / "env.json").write_text(json.dumps({"commit": "c", "sessions": [
        {"commit": "a"}, {"commit": "b"}, {"commit": "a"}, {"commit": None}, {"commit": "c"}]}))
    assert _common.run_commits(str(tmp_path)) == ["a", "b", "c"]
    (tmp_path / "env.json").write_text(json.dumps({"commit": "old"}))
    assert _common.run_commits(str(tmp_path)) == ["old"]
