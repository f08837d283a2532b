"""search_papers_fmnist: comparison at equal MACs with selection on validation, test reported."""

import search_papers_fmnist as b


def _pt(macs, val, test, seed=0):
    return {"seed": seed, "config": [macs], "macs": macs, "validation_accuracy": val,
            "accuracy": test}


def test_best_within_selects_on_validation_not_test():
    pts = [_pt(10, 0.80, 0.95), _pt(20, 0.90, 0.70), _pt(30, 0.99, 0.99)]
    assert b.best_within(pts, 25)["macs"] == 20          # best validation within 25 MACs
    assert b.best_within(pts, 5) is None


def test_compare_levels_inside_the_common_range_and_gap_in_points():
    papers = [_pt(15, 0.9, 0.90), _pt(25, 0.95, 0.93)]
    usnets = [_pt(10, 0.8, 0.80), _pt(20, 0.85, 0.85), _pt(40, 0.97, 0.97)]
    levels = b.compare(papers, usnets)
    assert [lv["macs"] for lv in levels] == [15, 20, 25]  # both cover [15, 25]
    assert levels[0]["usnets"]["macs"] == 10
    assert abs(levels[-1]["gap_points"] - 100 * (0.93 - 0.85)) < 1e-9
    summary, md = b.summarise([{"seed": 0, "levels": levels}, {"seed": 1, "levels": levels}])
    assert summary["levels"] == "MACs levels present in every seed"
    assert summary["min_gap_points"] >= 0 and summary["target_met"]
    assert summary["mean_gap_points_per_seed"] == [summary["mean_gap_points"]] * 2
    assert summary["mean_gap_points_sd"] == 0.0 and "sd over seeds 0.00" in md
    assert "gap (points)" in md


def test_usnets_grid_is_a_005_step():
    g = b.usnets_widths()
    assert g[0] == 0.25 and g[-1] == 1.0 and len(g) == 16
