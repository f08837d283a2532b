"""precision_fmnist: fronts selected on validation, accuracies reported on test, seeds' spread."""

import precision_fmnist as b
import pytest


def _pt(width, bits, val, test, energy):
    return {"width": width, "bits": list(bits), "top1_validation": val, "top1_test": test,
            "energy_j": energy, "latency_s": energy}


def test_pareto_keeps_the_undominated_points_on_validation_cheapest_first():
    pts = [_pt(1.0, (8, 8), 90, 10, 4.0), _pt(0.5, (8, 8), 85, 99, 2.0),
           _pt(0.5, (4, 4), 84, 99, 3.0),  # dominated: costlier and less accurate
           _pt(0.25, (8, 8), 80, 50, 1.0)]
    front = b.pareto(pts, "energy_j")
    assert [(p["width"], tuple(p["bits"])) for p in front] == [
        (0.25, (8, 8)), (0.5, (8, 8)), (1.0, (8, 8))]


def test_compare_fronts_selects_on_validation_and_reports_test():
    width_only = [_pt(0.25, (8, 8), 80, 79, 4.0), _pt(1.0, (8, 8), 90, 89, 8.0)]
    joint = [_pt(0.25, (2, 2), 70, 95, 1.0),   # best on test, but below 80 on validation
             _pt(0.5, (4, 4), 81, 78, 2.0),    # the cheapest reaching 80 on validation
             _pt(0.25, (8, 8), 82, 80, 4.0), _pt(0.5, (8, 8), 84, 84, 5.0),
             _pt(1.0, (8, 8), 90, 89, 8.0)]
    f = b.compare_fronts(joint, width_only, "energy_j")
    assert f["ratio_at_cheapest_accuracy"] == pytest.approx(2.0 / 4.0)
    assert f["reaching_point"] == [0.5, [4, 4]]
    assert f["reaching_point_test_gap"] == pytest.approx(78 - 79)
    # cheapest quarter of the width-only range [4, 8]: energies 4..5 -> joint points at 4 and 5
    assert f["cheapest_quarter_points"] == 2
    # test gains against the width-only front interpolated on test: 80-79 and 84-81.5
    assert f["mean_gain_cheapest_quarter"] == pytest.approx((1.0 + 2.5) / 2)
    assert f["mean_gain_cheapest_quarter_validation"] == pytest.approx((2.0 + 1.5) / 2)


def _run(shift):
    wo = [_pt(0.25, (8, 8), 80, 79 + shift, 4.0), _pt(1.0, (8, 8), 90, 89 + shift, 8.0)]
    joint = [_pt(0.25, (8, 8), 80, 79.2, 4.0), _pt(1.0, (8, 8), 90, 88.8, 8.0),
             _pt(1.0, (4, 4), 86, 86.0, 2.0), _pt(0.25, (4, 4), 75, 75.0, 1.0)]
    ded = [_pt(1.0, (4, 4), 88, 87.0 + shift, 2.0)]
    return {"joint": {"points": joint, "time_s": 10.0 + shift, "commits": ["a", "b"]},
            "width_only": {"points": wo},
            "dedicated_w4a4": {"points": ded}}


def test_summarise_judges_the_targets_on_the_mean_and_states_the_spread():
    r = b.summarise({0: _run(0.0), 1: _run(1.0)})
    gaps = r["gap_joint_vs_width_only_8bit"]
    assert gaps["0.25"] == pytest.approx(79.2 - 79.5) and gaps["1"] == pytest.approx(88.8 - 89.5)
    assert r["spread_sd"]["gap_joint_vs_width_only_8bit"]["0.25"] == pytest.approx(0.7071, 1e-3)
    assert r["gap_joint_vs_dedicated"]["dedicated_w4a4"] == pytest.approx(86.0 - 87.5)
    t = r["targets"]
    assert t["joint_within_0.5_of_width_only_8bit"] is False   # -0.7 at full width
    assert t["joint_within_1.5_of_dedicated_4_4"] is True      # -1.5 exactly
    # the joint 1.0 @ 4/4 point (86 % validation) reaches 80 % at 2/4 of the energy
    assert r["fronts"]["energy_j"]["ratio_at_cheapest_accuracy"] == pytest.approx(0.5)
    assert t["energy_ratio_at_most_0.5"] and t["energy_either"]
    assert r["points"]["joint"][0]["n"] == 2 and r["targets_judged_on"] == "mean over seeds"
    assert r["runs"]["1"]["joint"] == {"time_s": 11.0, "resumed": None, "commits": ["a", "b"]}
    md = b.markdown(r)
    assert "± 0.71" in md and "NOT met" in md and "0.50 ± 0.00x" in md
    # each seed's worst width, so a seed that misses the target shows beside the mean
    assert r["gaps_per_seed"]["1"]["gap_joint_vs_width_only_8bit"]["1"] == pytest.approx(-1.2)
    assert "seed 0: -0.20 at 1, seed 1: -1.20 at 1" in md
    assert "seed 1: joint 0.0 h" in md
    # cheap half of [4, 8]: the width-only point at 4 (80 % validation) against the joint
    # 1.0 @ 4/4 (86 %, cost 2): half the cost on both seeds, for energy and latency alike
    for cost in ("energy_j", "latency_s"):
        assert r["fronts"][cost]["cheap_half"]["mean_ratio_at_equal_accuracy"] == 0.5
        assert r["spread_sd"]["cheap_half"][cost]["mean_ratio_at_equal_accuracy"] == 0.0
    assert "at equal validation accuracy the joint front needs on average 0.50 ± 0.00x" in md


def test_plot_writes_a_png_per_cost(tmp_path):
    r = b.summarise({0: _run(0.0), 1: _run(1.0)})
    for key in ("energy_j", "latency_s"):
        path = tmp_path / f"{key}.png"
        b.plot(r, key, str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_half_trained_joint_run_of_another_method_is_refused(tmp_path):
    recipe = {"lr": 0.1, "precision_method": b.JOINT_METHOD}
    b.check_method(str(tmp_path / "new"), recipe)  # a new run records its method
    assert (tmp_path / "new" / "method.json").read_text().count(b.JOINT_METHOD) == 1
    old = tmp_path / "old"
    (old / "checkpoint").mkdir(parents=True)
    (old / "checkpoint" / "meta.json").write_text("{}")  # started before methods were recorded
    with pytest.raises(SystemExit, match="precision method None"):
        b.check_method(str(old), recipe)
    b.check_method(str(tmp_path / "new"), recipe)  # the same method resumes
    (tmp_path / "new" / "checkpoint").mkdir()
    (tmp_path / "new" / "checkpoint" / "meta.json").write_text("{}")
    b.check_method(str(tmp_path / "new"), recipe)
    with pytest.raises(SystemExit, match="use another --runs-dir"):
        b.check_method(str(tmp_path / "new"), {**recipe, "precision_method": "other"})


def test_cheap_half_reports_energy_at_equal_accuracy_and_accuracy_at_equal_energy():
    """Issue 17's report over the cheap half of the width-only range: each width-only front
    point there against the cheapest joint point as accurate on validation, and the joint
    front points there against the width-only front interpolated at their energy."""
    width_only = [_pt(0.25, (8, 8), 80, 79, 4.0), _pt(0.5, (8, 8), 85, 84, 6.0),
                  _pt(1.0, (8, 8), 90, 89, 8.0)]
    joint = [_pt(0.25, (4, 4), 81, 80, 2.0), _pt(0.5, (4, 4), 86, 85, 3.0),
             _pt(0.5, (8, 8), 88, 87, 5.0), _pt(1.0, (8, 8), 90, 89, 8.0)]
    h = b.compare_fronts(joint, width_only, "energy_j")["cheap_half"]
    assert h["matched_width_only_points"] == 2                    # the points at 4 and 6
    assert h["mean_ratio_at_equal_accuracy"] == pytest.approx((2 / 4 + 3 / 6) / 2)
    assert h["mean_test_gap_at_equal_accuracy"] == pytest.approx(1.0)
    assert h["joint_points"] == 1                                 # only 5.0 lies in [4, 6]
    assert h["mean_gain_at_equal_energy"] == pytest.approx(87 - 81.5)
    assert h["mean_gain_at_equal_energy_validation"] == pytest.approx(88 - 82.5)


def test_the_recorded_joint_method_names_the_trainers_pair_weights():
    """JOINT_METHOD is what refuses a joint run of another method: it must change with
    TrainConfig's default pair weights (3/4 : 1/4 at lower_weight 0.25)."""
    from dynpim.train import TrainConfig

    w = TrainConfig().lower_weight
    assert w == 0.25 and "stored pass at weight 3/4 and the lower at 1/4" in b.JOINT_METHOD
