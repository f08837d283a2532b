"""accuracy_fmnist's seeds: mean ± sd per width, targets judged on the means, merged parts keep
their own timestamps (no training here: the committed parts are merged again)."""

import json
import sys

import _common
import accuracy_fmnist as af
import pytest

PARTS = af.HERE + "/results/parts_fmnist"


def test_aggregate_means_sds_and_counts():
    per_seed = {"0": {"dynamic": {"1": 93.0, "0.5": 92.0}, "individual": {"1": 93.2}},
                "1": {"dynamic": {"1": 92.0, "0.5": 91.0}, "individual": {"1": 93.4}},
                "2": {"dynamic": {"1": 94.0}}}
    agg = af.aggregate(per_seed)
    assert agg["dynamic"] == {"0.5": 91.5, "1": 93.0}
    assert agg["dynamic_sd"]["1"] == 1.0 and agg["dynamic_n"] == {"0.5": 2, "1": 3}
    assert agg["individual"] == {"1": 93.3} and agg["individual_n"] == {"1": 2}
    one = af.aggregate({"0": {"dynamic": {"1": 90.0}, "individual": {}}})
    assert one["dynamic_sd"] == {"1": None}


def test_verdict_on_means_with_the_issue_16_thresholds():
    def res(d, i, n):
        return {"dynamic": {"0.25": d[0], "1": d[1]}, "individual": {"0.25": i[0], "1": i[1]},
                "dynamic_n": {"0.25": n, "1": n}, "individual_n": {"0.25": n, "1": n}}

    widths = (0.25, 1.0)
    assert "NOT met" in af.verdict(res((90.0, 93.5), (90.4, 93.5), 3), widths)  # gap -0.4
    ok = af.verdict(res((90.0, 93.1), (90.2, 93.3), 3), widths)
    assert ": met" in ok and "issue 16 asks" not in ok
    assert "NOT met" in af.verdict(res((90.0, 92.9), (90.0, 92.9), 3), widths)  # full < 93
    assert "only 1 seed(s)" in af.verdict(res((90.0, 93.1), (90.2, 93.3), 1), widths)


def test_merging_the_committed_parts_reproduces_the_committed_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "_STATE", {})
    monkeypatch.setenv("DYNPIM_ALLOW_DIRTY", "1")
    monkeypatch.setattr(sys, "argv", ["accuracy_fmnist.py"])
    parts = af.HERE + "/results/accuracy_fmnist_parts"  # the 3-seed run's two processes
    paths = [f"{parts}/dynamic.json", f"{parts}/individual.json"]
    out = tmp_path / "merged.json"
    af.merge(paths, str(out))
    got = json.loads(out.read_text())
    committed = json.loads(open(af.HERE + "/results/accuracy_fmnist.json").read())
    assert got["dynamic"] == committed["dynamic"]
    assert got["individual"] == committed["individual"]
    assert got["dynamic_sd"] == committed["dynamic_sd"]
    assert set(got["dynamic_n"].values()) == {3} and set(got["individual_n"].values()) == {3}
    assert got["accuracy_split"] == "test" and got["settings"]["recipes"]["dynamic"]["lr"] == 0.1
    dates = [json.load(open(p))["machine"]["date_utc"] for p in paths]
    assert [p["date_utc"] for p in got["parts"]] == dates
    assert "seed(s)" not in got["markdown"] and "NOT met" in got["markdown"]


def test_seed_list():
    assert af.seed_list("2,0") == [2, 0]
    with pytest.raises(Exception, match="distinct"):
        af.seed_list("1,1")


def test_merge_pools_seeds_and_allows_a_recipe_per_arm(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "_STATE", {})
    monkeypatch.setenv("DYNPIM_ALLOW_DIRTY", "1")
    monkeypatch.setattr(sys, "argv", ["accuracy_fmnist.py"])
    dyn = json.load(open(f"{PARTS}/cpu_parallel_dynamic.json"))
    ind = json.load(open(f"{PARTS}/cpu_parallel_individual.json"))
    ind["settings"]["weight_decay"] = 1e-4  # the individual arm tuned on its own
    dyn1 = json.loads(json.dumps(dyn))
    dyn1["settings"]["seed"] = 1
    dyn1["dynamic"] = {k: v - 1.0 for k, v in dyn["dynamic"].items()}
    paths = []
    for name, part in (("d0", dyn), ("d1", dyn1), ("i0", ind)):
        (tmp_path / f"{name}.json").write_text(json.dumps(part))
        paths.append(str(tmp_path / f"{name}.json"))
    af.merge(paths, str(tmp_path / "m.json"))
    got = json.loads((tmp_path / "m.json").read_text())
    assert got["dynamic"] == {k: round(v - 0.5, 3) for k, v in dyn["dynamic"].items()}
    assert set(got["dynamic_n"].values()) == {2} and set(got["individual_n"].values()) == {1}
    assert got["settings"]["by_mode"]["individual"]["weight_decay"] == 1e-4
    assert "weight decay 0.0001" in got["markdown"]
    # the plot beside the result, listed for docs/benchmarks.md
    assert got["plots"] == ["m.png"]
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = json.loads(json.dumps(ind))
    bad["settings"]["epochs"] = 3
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(SystemExit, match="differ"):
        af.merge([paths[0], str(tmp_path / "bad.json")], str(tmp_path / "x.json"))


def _ablation(tmp_path, missing=()):
    """A sandwich_ablation result holding the kept variants' settings."""
    def part(variant, lr, wd, loss="labels"):
        return {"variant": variant, "seed": 0,
                "settings": {"lr": lr, "weight_decay": wd, "subnet_loss": loss, "epochs": 4}}
    kept = {"dynamic": "dynamic_both_lr0.1", "individual_0.5": "individual_0.5_lr0.05_wd0.0001",
            "individual_1": "individual_1_lr0.2_wd0.0005"}
    variants = {"dynamic_both_lr0.1_seed0": part("dynamic_both_lr0.1", 0.1, 5e-4, "both"),
                "dynamic_labels_lr0.2_seed0": part("dynamic_labels_lr0.2", 0.2, 5e-4),
                "individual_0.5_lr0.05_wd0.0001_seed0":
                    part("individual_0.5_lr0.05_wd0.0001", 0.05, 1e-4),
                "individual_1_lr0.2_wd0.0005_seed0": part("individual_1_lr0.2_wd0.0005", 0.2, 5e-4)}
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps({"kept": kept, "variants": variants, "missing": list(missing)}))
    return str(path)


def test_recipes_come_from_the_kept_ablation_variants(tmp_path):
    path = _ablation(tmp_path)
    r = af.load_recipes(path)
    assert r["dynamic"] == {"lr": 0.1, "weight_decay": 5e-4, "subnet_loss": "both",
                            "variant": "dynamic_both_lr0.1"}
    assert r["individual_0.5"]["lr"] == 0.05 and r["individual_0.5"]["weight_decay"] == 1e-4

    class A:
        recipes = path
    assert af.recipe(A, "dynamic", None) == {"lr": 0.1, "weight_decay": 5e-4,
                                             "subnet_loss": "both"}
    # an individual run keeps its own (unused) sub-net loss; lr and weight decay per width
    assert af.recipe(A, "individual", 1.0) == {"lr": 0.2, "weight_decay": 5e-4}
    A.recipes = None
    assert af.recipe(A, "individual", 1.0) == {}


def test_a_partial_ablation_gives_no_recipes(tmp_path):
    with pytest.raises(SystemExit, match="partial ablation"):
        af.load_recipes(_ablation(tmp_path, missing=["individual_1_lr0.1_wd0.0001_seed0"]))
