import json

from dynpim.cli import main


def test_simulate_writes_outputs(tmp_path, table, capsys):
    tpath = tmp_path / "table.json"
    table.save(tpath)
    out = tmp_path / "run"
    rc = main(["runtime", "simulate", "--table", str(tpath), "--generate",
               "ramp:duration_s=2,start_w=0.4,end_w=0.05,rate_hz=50", "--policy", "all",
               "--deadline-s", "0.01", "--margin", "0.1", "--min-dwell-s", "0.2", "--out",
               str(out)])
    assert rc == 0
    for pol in ("budget", "feedback"):
        for f in ("timeline.csv", "windows.csv", "decisions.csv", "summary.json", "timeline.png"):
            assert (out / pol / f).is_file()
    comp = json.loads((out / "comparison.json").read_text())
    assert len(comp["rows"]) == 2 + len(table)
    assert (out / "comparison.png").is_file()
    text = capsys.readouterr().out
    assert "dynamic:budget" in text and "best static point" in text


def test_trace_then_simulate_single_policy(tmp_path, table):
    tpath, cpath, out = tmp_path / "t.json", tmp_path / "tr.csv", tmp_path / "o"
    table.save(tpath)
    assert main(["runtime", "trace", "walk:duration_s=1,seed=2,rate_hz=30", "--out",
                 str(cpath)]) == 0
    assert main(["runtime", "simulate", "--table", str(tpath), "--trace", str(cpath),
                 "--no-plots", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["requests_served"] + s["requests_dropped"] == s["requests_arrived"]


def test_show_and_errors(tmp_path, table, capsys):
    tpath = tmp_path / "t.json"
    table.save(tpath)
    assert main(["runtime", "show", "--table", str(tpath)]) == 0
    assert "8 points" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "dynpim.operating_table/1", "points": []}))
    assert main(["runtime", "show", "--table", str(bad)]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["runtime", "simulate", "--table", str(tpath), "--generate", "zig:",
                 "--out", str(tmp_path / "x")]) == 2
    assert "kind" in capsys.readouterr().err


def test_cli_reports_inferences_over_the_cap(tmp_path, table, capsys):
    """Issue 20: with the cap below the cheapest point the table printed 0/N violation windows
    (duty cycling keeps the window average low) and hid the inferences run over the cap."""
    tpath = tmp_path / "t.json"
    table.save(tpath)
    cheapest = min(p.avg_power_w for p in table)
    assert main(["runtime", "simulate", "--table", str(tpath), "--generate",
                 f"step:duration_s=2,start_w={cheapest / 2},end_w={cheapest / 2},rate_hz=20",
                 "--no-plots", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "| inferences over cap |" in text
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["inferences_over_cap"] == s["requests_served"] > 0
    assert f"| {s['inferences_over_cap']}/{s['requests_served']} |" in text


def test_simulate_overwrite_replaces_only_its_own_files(tmp_path, table):
    tpath, out = tmp_path / "t.json", tmp_path / "o"
    table.save(tpath)
    base = ["runtime", "simulate", "--table", str(tpath), "--generate",
            "ramp:duration_s=1,rate_hz=20", "--no-plots", "--out", str(out)]
    assert main([*base, "--policy", "all"]) == 0
    (out / "notes.txt").write_text("mine")
    assert main(base) == 2  # an existing simulate run needs --overwrite
    assert main([*base, "--overwrite"]) == 0
    assert not (out / "budget").exists() and (out / "summary.json").is_file()
    assert (out / "notes.txt").read_text() == "mine"
    rec = json.loads((out / "dynpim-run.json").read_text())
    assert rec["kind"] == "simulate" and rec["config"]["policy"] == "budget"
