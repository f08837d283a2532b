"""sandwich_ablation ranks both arms on validation, with the same number of recipes each, on
the mean over seeds; missing runs make the merged result partial (synthetic parts only)."""

import json

import _common
import pytest
import sandwich_ablation as sa


def part(variant, seed, accs):
    return {"variant": variant, "seed": seed, "top1_validation": dict(zip(sa.WIDTHS, accs)),
            "train_images": 100, "validation_images": 50, "command": f"run {variant} {seed}",
            "machine": {"date_utc": f"2026-01-0{seed + 1}T00:00:00Z", "dirty": False}}


def test_same_budget_for_both_arms():
    arms: dict[str, int] = {}
    for name in sa.VARIANTS:
        arms[sa.arm(name)] = arms.get(sa.arm(name), 0) + 1
    assert set(arms) == {"dynamic", *(f"individual_{w}" for w in sa.WIDTHS)}
    assert set(arms.values()) == {6}
    assert all(v.get("holdout", sa.BASE["holdout"]) == sa.VALIDATION
               for v in ({**sa.BASE, **x} for x in sa.VARIANTS.values()))


def test_choose_ranks_on_the_validation_mean_over_seeds():
    parts = [part("dynamic_labels_lr0.2", 0, [80, 81, 82, 90]),
             part("dynamic_labels_lr0.2", 1, [80, 81, 82, 84]),   # mean at 1.0: 87
             part("dynamic_both_lr0.2", 0, [81, 82, 83, 86]),
             part("dynamic_both_lr0.2", 1, [81, 82, 83, 86]),     # better mean over widths
             part("individual_1_lr0.2_wd0.0005", 0, [None, None, None, 88]),
             part("individual_1_lr0.1_wd0.0001", 0, [None, None, None, 89])]
    for p in parts:
        p["top1_validation"] = {w: v for w, v in p["top1_validation"].items() if v is not None}
    s = sa.summarise(parts)
    lab = s["dynamic_labels_lr0.2"]
    assert lab["mean"]["1"] == 87 and lab["seeds"] == [0, 1]
    assert s["dynamic_labels_lr0.2"]["sd"]["1"] == pytest.approx(4.242640687, rel=1e-6)
    assert sa.choose(s) == {"dynamic": "dynamic_both_lr0.2",
                            "individual_1": "individual_1_lr0.1_wd0.0001"}


def test_collect_with_missing_runs_is_partial_and_kept_out_of_results(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "_STATE", {"dirty": False, "dirty_files": []})
    monkeypatch.setattr(_common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(_common, "SCRATCH", tmp_path / "scratch")
    monkeypatch.setattr(_common, "is_committed", lambda p: True)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.json").write_text(json.dumps(part("dynamic_labels_lr0.2", 0, [1, 2, 3, 4])))
    sa.collect(str(parts), [0])
    out = json.loads((tmp_path / "scratch" / "sandwich_ablation.json").read_text())
    assert out["partial_run"] is True and len(out["missing"]) == len(sa.VARIANTS) - 1
    assert out["accuracy_split"].startswith("validation")
    assert out["parts"][0]["date_utc"] == "2026-01-01T00:00:00Z"
    assert not (tmp_path / "results").exists()
