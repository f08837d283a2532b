import pytest

from dynpim.stages import TableOptions, open_run
from dynpim.stages.runtime import RunName
from dynpim.stages.search import SearchRunOptions


def test_run_names_come_from_typed_summaries_and_round_trip():
    from dynpim.nn import SubnetConfig
    from dynpim.runtime import OperatingPoint, OperatingTable, compare_runs, generate

    table = OperatingTable.from_points(
        [OperatingPoint(SubnetConfig([4 * i] * 3), 16, 0.5 + 0.1 * i, 1e-3 * i, 1e-4 * i, 0.1)
         for i in (1, 2)], {"model": {"name": "toy", "args": {}}})
    trace = generate("step", duration_s=1.0, dt_s=0.5, rate_hz=5.0)
    runs = compare_runs(table, trace, policies=("budget",))
    names = [RunName.of(r) for r in runs]
    assert names[0] == RunName("dynamic", "budget") and str(names[0]) == "dynamic:budget"
    assert [n.what for n in names[1:]] == [p.label for p in table]
    assert all(str(n) == r.name for n, r in zip(names, runs))
    assert RunName.from_dict(names[1].to_dict()) == names[1]
    with pytest.raises(ValueError):
        RunName("other", "x")


def test_table_options_are_checked_once_with_one_line_errors():
    assert TableOptions(checkpoint="c", out="t.json", split="holdout").selection == "validation"
    with pytest.raises(ValueError, match="refusing to select on the test split"):
        TableOptions(checkpoint="c", out="t.json", split="test")
    with pytest.raises(ValueError, match="--latency needs --hardware measured"):
        TableOptions(checkpoint="c", out="t.json", latency="l.json")
    with pytest.raises(ValueError, match="needs --latency FILE"):
        TableOptions(checkpoint="c", out="t.json", hardware="measured:cpu")
    rec = TableOptions(checkpoint="c", out="t.json").to_dict()
    assert list(rec)[:3] == ["debug", "command", "checkpoint"] and "selection" not in rec


def test_search_options_fill_the_recipe_and_check_combinations():
    o = SearchRunOptions(out="s", checkpoint="c").with_recipe()
    assert (o.ranking, o.filter, o.retrain_epochs, o.pretrain_epochs) == ("auto", "pareto", 0, 10)
    p = SearchRunOptions(out="s", recipe="papers", model="lenet", dataset="digits",
                         epochs=3).with_recipe()
    assert (p.ranking, p.filter, p.retrain_epochs, p.pretrain_epochs) == ("l1", "local", 3, 3)
    with pytest.raises(ValueError, match="--checkpoint is required"):
        SearchRunOptions(out="s").with_recipe()
    with pytest.raises(ValueError, match="--k must be >= 1"):
        SearchRunOptions(out="s", k=0)


def test_open_run_loads_the_checkpoint_with_its_own_split(trained_run):
    run = open_run(trained_run)
    assert run.dataset == "synthetic" and run.train_config["dataset"] == "synthetic"
    assert tuple(run.splits.input_size) == tuple(run.model.input_size)
    assert run.configs() and len(run.splits.holdout_y) > 0
