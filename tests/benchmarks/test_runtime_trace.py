"""runtime_trace on measured accuracies: the table selects on validation, the effective
accuracy is also reported on test, the assumed curve stays a labelled synthetic case."""

import pytest
import runtime_trace as rt

from dynpim.train import TrainConfig, train

MODEL = {"name": "resnet20", "args": {"in_channels": 1, "num_classes": 10, "image_size": 28}}


def measured(test_reversed: bool = False) -> dict:
    val = {f"{r:g}": 0.80 + 0.1 * r for r in rt.RATIOS}
    test = {f"{r:g}": (0.95 - 0.1 * r if test_reversed else 0.79 + 0.1 * r) for r in rt.RATIOS}
    return {"checkpoint": "ck", "model": MODEL, "validation": val, "test": test}


def test_measured_table_selects_on_validation_and_carries_test():
    m = measured()
    table, _ = rt.build_table(m)
    assert table.meta["accuracy_split"] == "validation"
    assert table.meta["accuracy_source"] == "measured: ck"
    by_acc = {round(v, 9): k for k, v in m["validation"].items()}
    for p in table:
        r = by_acc[round(p.accuracy, 9)]
        assert p.test_accuracy == m["test"][r]
    # the Pareto set is the same whatever the test accuracies are: they are never selected on
    other, _ = rt.build_table(measured(test_reversed=True))
    assert [p.key for p in other] == [p.key for p in table]


def test_synthetic_case_is_labelled():
    table, _ = rt.build_table(None)
    assert table.meta["accuracy_source"].startswith("synthetic")
    assert table.test_accuracies() is None


def test_measured_traces_report_test_and_never_exceed_the_best_point():
    table, hw = rt.build_table(measured())
    md, data = rt.simulate_traces(table, hw, 1.0, 0)
    assert "effective acc. % (test)" in md and "(validation)" in md
    best = max(p.test_accuracy for p in table)
    for trace in ("ramp", "walk"):
        for row in data["traces"][trace]["rows"]:
            assert row["accuracy_split"] == "validation"
            assert row["effective_accuracy_test"] <= row["best_point_accuracy_test"] <= best


def test_checkpoint_without_validation_split_is_refused(tmp_path):
    cfg = TrainConfig(model="lenet", width_mult=0.25, dataset="synthetic", epochs=1,
                      batch_size=64, lr=0.05, calib_batches=1, progress=False, holdout=0,
                      out=str(tmp_path / "run"))
    train(cfg)
    with pytest.raises(SystemExit, match="validation split"):
        rt.measured_accuracies(str(tmp_path / "run" / "checkpoint"))


def test_several_networks_give_the_gain_as_mean_and_sd():
    """One table per trained network; the dynamic-minus-best-static gain (test, points) per
    network, its mean and sd, and the best static point of each network chosen on validation."""
    nets = [measured(), {**measured(test_reversed=True), "checkpoint": "ck2"}]
    datas = []
    for m in nets:
        table, hw = rt.build_table(m)
        datas.append(rt.simulate_traces(table, hw, 1.0, 0)[1])
    per, md = rt.summarise_gains(datas, nets)
    assert per["checkpoints"] == ["ck", "ck2"]
    assert "mean ± sd" in md and "over 2 trained network(s)" in md
    for key, g in per["gain_points"].items():
        trace, policy = key.split(":")
        expect = []
        for d in datas:
            rows = {r["name"]: r for r in d["traces"][trace]["rows"]}
            best = rows[d["traces"][trace]["best_static"]]
            expect.append(100 * (rows[f"dynamic:{policy}"]["effective_accuracy_test"]
                                 - best["effective_accuracy_test"]))
        assert g["per_network"] == pytest.approx(expect)
        assert g["mean"] == pytest.approx(sum(expect) / 2)
        assert g["sd"] == pytest.approx(abs(expect[0] - expect[1]) / 2 ** 0.5)
