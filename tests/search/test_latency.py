"""``dynpim latency`` (measured latency of exported sub-nets) and ``dynpim table --hardware
measured:cpu`` (an operating table from it). No timing asserts: only structure and provenance."""

import argparse
import json

import pytest

from dynpim.cli import latency as latency_cli
from dynpim.cli import main
from dynpim.nn import SubnetConfig
from dynpim.runtime import OperatingTable
from dynpim.search.latency import measure_latency
from dynpim.stages import measured_table_points


def _latency(argv):
    """``dynpim latency ...`` through the sub-command's own parser (also registered in the CLI
    when dynpim.cli lists it)."""
    parser = argparse.ArgumentParser(prog="dynpim")
    latency_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["latency", *argv])
    return args.func(args)


def test_measure_latency_records_threads_and_medians(model):
    cfgs = [model.max_config(), SubnetConfig.uniform(model, 0.5)]
    res = measure_latency(model.eval(), cfgs, threads=[1, 2], warmup=1, repeats=3)
    assert res["schema"] == "dynpim.latency/1" and res["threads"] == [1, 2]
    assert len(res["points"]) == 4 and {p["threads"] for p in res["points"]} == {1, 2}
    for p in res["points"]:
        assert 0 < p["min_s"] <= p["median_s"] and p["p10_s"] <= p["p90_s"]
    assert res["machine"]["torch"] and res["warmup"] == 1 and res["repeats"] == 3
    pts = measured_table_points(res, {c.key: 0.5 for c in cfgs}, power_w=2.0)
    assert {p.active_subarrays for p in pts} == {1, 2}
    assert all(p.energy_j == pytest.approx(2.0 * p.latency_s) for p in pts)
    with pytest.raises(ValueError, match="not evaluated"):
        measured_table_points(res, {})
    widths = [s.max_channels for s in model.slots]
    widths[0] = model.slots[0].min_channels
    uncalibrated = SubnetConfig(widths)                       # BN statistics filled in
    assert uncalibrated.key not in {c.key for c in model.banked_configs()}
    assert measure_latency(model, [uncalibrated], warmup=0, repeats=1)["points"]
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(model, cfgs, repeats=0)


def test_latency_cli_and_measured_table(trained, tmp_path, capsys):
    _, ck = trained
    lat = tmp_path / "lat.json"
    assert _latency(["--checkpoint", ck, "--threads", "1", "--warmup", "1", "--repeats", "3",
                     "--out", str(lat)]) == 0
    data = json.loads(lat.read_text())
    assert data["device"] == "cpu" and data["threads"] == [1] and data["points"]
    assert "median ms" in capsys.readouterr().out
    table = tmp_path / "t.json"
    assert main(["table", "--checkpoint", ck, "--hardware", "measured:cpu", "--latency",
                 str(lat), "--calib-batches", "2", "--calib-batch-size", "64", "--all-points",
                 "--out", str(table)]) == 0
    t = OperatingTable.load(table)
    assert t.meta["hardware"] == "measured:cpu" and t.meta["level_meaning"] == "CPU threads"
    assert t.meta["accuracy_split"] == "validation"
    medians = {p["key"]: p["median_s"] for p in data["points"]}
    assert {p.config.key: p.latency_s for p in t} == medians
    # a measured table needs its file; a PIM table refuses one
    assert main(["table", "--checkpoint", ck, "--hardware", "measured:cpu",
                 "--out", str(table)]) == 2
    assert main(["table", "--checkpoint", ck, "--latency", str(lat), "--out", str(table)]) == 2
