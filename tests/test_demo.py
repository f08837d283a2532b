"""The demo end to end on a tiny setting: every file, the report, resume and re-render."""

import json

import pytest

from dynpim.cli import main
from dynpim.demo import DemoOptions, run_demo
from dynpim.report import REQUIRED
from dynpim.runtime import OperatingTable


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    # one run-time precision besides the stored 8/8: the demo with both knobs (the width-only
    # demo, make demo, runs in the docs runner through docs/demo.md)
    opts = DemoOptions(out=str(out), model="lenet", epochs=1, qat_epochs=1, configs_kept=3,
                       precisions="4/4")
    logs: list[str] = []
    summary = run_demo(opts, log=logs.append)
    return out, opts, summary, logs


def test_demo_writes_every_stage(run):
    out, _, summary, logs = run
    for name in REQUIRED:
        assert (out / name).stat().st_size > 0, name
    for png in ("accuracy_vs_cost", "layer_breakdown", "power_latency_knob", "runtime_trace",
                "width_precision"):
        assert (out / "report" / f"{png}.png").stat().st_size > 10_000
    html = (out / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 5 and "Operating table" in html
    assert html.count("<figcaption>") == 5  # a caption under every figure
    # the best static point's row and the columns that chose it are highlighted
    best = json.loads((out / "runtime.json").read_text())["best_static"]["name"]
    assert html.count('<tr class="mark-row">') == 1
    row = html.split('<tr class="mark-row">')[1].split("</tr>")[0]
    assert best in row and row.count('class="mark-col"') == 2
    assert html.index("<ul><li>") < html.index("<h2>")  # the headline list comes first
    ev = json.loads((out / "evaluation.json").read_text())
    fams = {p["family"] for p in ev["points"]}
    assert fams == {"uniform", "nonuniform"}
    assert all(0 <= p["accuracy"] <= 1 and p["energy_j"] > 0 for p in ev["points"])
    table = OperatingTable.load(str(out / "table.json"))
    assert len(table) >= 1
    assert set(summary["headline"]) and summary["report"].endswith("index.html")
    assert any(line.startswith("[search]") for line in logs)


def test_both_knobs_are_evaluated_tabled_and_counted(run):
    out, _, _, _ = run
    ev = json.loads((out / "evaluation.json").read_text())
    grid = ev["precision_grid"]
    widths = {tuple(p["config"]["widths"]) for p in ev["points"] if p["family"] == "uniform"}
    assert sorted({tuple(r["bits"]) for r in grid}) == [(4, 4), (8, 8)]
    assert len(grid) == 2 * len(widths)
    at = {(tuple(r["bits"]), r["width"]): r for r in grid}
    for (bits, w), r in at.items():  # fewer bits never cost more PIM energy
        if bits == (4, 4):
            assert r["energy_j"] < at[((8, 8), w)]["energy_j"]
    table = OperatingTable.load(str(out / "table.json"))
    assert {p.bits for p in table} <= {None, (4, 4)}
    rt = json.loads((out / "runtime.json").read_text())
    for row in rt["comparison"]:
        knobs = row["switches_by_knob"]
        assert set(knobs) == {"width", "precision", "subarrays"}
        assert max(knobs.values()) <= row["switches"] <= sum(knobs.values())
    html = (out / "report" / "index.html").read_text()
    assert "Two knobs: width x precision" in html and "switches (knob moved)" in html


def test_headline_is_on_test_and_policy_never_beats_its_best_point(run):
    out, _, summary, _ = run
    assert summary["accuracy_split"] == {"headline": "test", "selection": "validation"}
    percent = {k: v for k, v in summary["headline"].items() if "%" in str(v)}
    assert len(percent) == 4  # every accuracy shown names the test split
    assert all("test split" in k or "test accuracy" in str(v) for k, v in percent.items())
    table = OperatingTable.load(str(out / "table.json"))
    assert table.meta["accuracy_split"] == "validation"
    nums = summary["numbers"]
    assert nums["best_point_accuracy_test"] == max(p.test_accuracy for p in table)
    assert nums["effective_accuracy_test"]["dynamic"] <= nums["best_point_accuracy_test"]
    if nums["effective_accuracy_test"]["best_static"] is not None:
        assert nums["effective_accuracy_test"]["best_static"] <= nums["best_point_accuracy_test"]
    ev = json.loads((out / "evaluation.json").read_text())
    full = max((p for p in ev["points"] if p["family"] == "uniform"), key=lambda p: p["macs"])
    assert nums["full_width_accuracy_test"] == full["accuracy"] and ev["accuracy_split"] == "test"
    rt = json.loads((out / "runtime.json").read_text())
    assert rt["dynamic"]["effective_accuracy_test"] == nums["effective_accuracy_test"]["dynamic"]


def test_report_first_section_lists_the_headline(run):
    out, _, summary, _ = run
    html = (out / "report" / "index.html").read_text()
    first = html.index("<h2>")
    for key, value in summary["headline"].items():
        assert html.index(key.replace(">", "&gt;")) < first
        assert str(value).replace(">", "&gt;") in html
    assert json.loads((out / "summary.json").read_text()) == summary


def test_demo_resumes_without_redoing_stages(run):
    out, opts, first, _ = run
    times = json.loads((out / "stage_times.json").read_text())
    assert {"uniform", "search", "nonuniform", "uniform-q", "nonuniform-q", "evaluate",
            "table", "runtime"} <= set(times)
    before = (out / "evaluation.json").stat().st_mtime_ns
    logs: list[str] = []
    again = run_demo(opts, log=logs.append)
    assert (out / "evaluation.json").stat().st_mtime_ns == before
    assert sum("skipped" in line for line in logs) == 5  # 4 trainings + search
    after = json.loads((out / "stage_times.json").read_text())
    skipped = ("uniform", "search", "nonuniform", "uniform-q", "nonuniform-q", "evaluate",
               "table", "runtime")
    assert {k: after[k] for k in skipped} == {k: times[k] for k in skipped}
    # the resumed run reports the time of every stage, not only what it ran itself
    assert again["stage_seconds"] == {k: v for k, v in after.items() if k != "report"}
    assert again["total_seconds"] == sum(again["stage_seconds"].values())
    assert again["total_seconds"] >= sum(times[k] for k in skipped)


def test_other_options_in_same_dir_rejected(run):
    out, opts, _, _ = run
    with pytest.raises(ValueError, match="other options"):
        run_demo(DemoOptions(out=str(out), model="lenet", epochs=2))


def test_report_rerenders_and_names_missing_files(run, tmp_path, capsys):
    out, _, _, _ = run
    (out / "report" / "index.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "index.html").exists()
    assert main(["report", str(tmp_path)]) == 2
    assert "evaluation.json is missing" in capsys.readouterr().err
