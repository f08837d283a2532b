"""pim_v2_recheck reads both the one-seed and the multi-seed search_fmnist result."""

import json

import pim_v2_recheck as b
import pytest


def _pts(acc):
    return [{"config": [4, 8], "accuracy": acc, "macs": 10}]


def test_load_points_one_seed_and_per_seed(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"uniform": _pts(0.8), "nonuniform": _pts(0.9)}))
    assert [(p["label"], p["accuracy"]) for p in b.load_points(one)] == [("u0", 80.0),
                                                                         ("n0", 90.0)]
    many = tmp_path / "many.json"
    many.write_text(json.dumps({"per_seed": [
        {"seed": 3, "curves": {"uniform": _pts(0.7), "nonuniform": _pts(0.75)}},
        {"seed": 4, "curves": {"uniform": _pts(0.6), "nonuniform": _pts(0.65)}}]}))
    assert b.load_points(many)[0]["accuracy"] == pytest.approx(70.0)   # the first seed
    assert b.load_points(many, 4)[1]["accuracy"] == pytest.approx(65.0)
    with pytest.raises(SystemExit, match="no seed 5"):
        b.load_points(many, 5)
