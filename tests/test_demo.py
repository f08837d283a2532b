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
    opts = DemoOptions(out=str(out), model="lenet", epochs=1, qat_epochs=1, configs_kept=3)
    logs: list[str] = []
    summary = run_demo(opts, log=logs.append)
    return out, opts, summary, logs


def test_demo_writes_every_stage(run):
    out, _, summary, logs = run
    for name in REQUIRED:
        assert (out / name).stat().st_size > 0, name
    for png in ("accuracy_vs_cost", "layer_breakdown", "power_latency_knob", "runtime_trace"):
        assert (out / "report" / f"{png}.png").stat().st_size > 10_000
    html = (out / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "Operating table" in html
    ev = json.loads((out / "evaluation.json").read_text())
    fams = {p["family"] for p in ev["points"]}
    assert fams == {"uniform", "nonuniform"}
    assert all(0 <= p["accuracy"] <= 1 and p["energy_j"] > 0 for p in ev["points"])
    table = OperatingTable.load(str(out / "table.json"))
    assert len(table) >= 1
    assert set(summary["headline"]) and summary["report"].endswith("index.html")
    assert any(line.startswith("[search]") for line in logs)


def test_demo_resumes_without_redoing_stages(run):
    out, opts, _, _ = run
    before = (out / "evaluation.json").stat().st_mtime_ns
    logs: list[str] = []
    run_demo(opts, log=logs.append)
    assert (out / "evaluation.json").stat().st_mtime_ns == before
    assert sum("skipped" in line for line in logs) == 5  # 4 trainings + search


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
