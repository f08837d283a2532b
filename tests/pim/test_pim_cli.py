import json

from dynpim.cli import main


def test_pim_estimate_prints_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["pim", "--model", "lenet", "--width", "0.5", "--per-layer", "--json", str(out),
               "--wbits", "4", "--abits", "4", "--active-subarrays", "8"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "latency" in text and "J" in text and "mm²" in text
    data = json.loads(out.read_text())
    r = data["results"][0]
    assert r["wbits"] == 4 and r["active_subarrays"] == 8 and r["energy_j"] > 0
    assert len(r["layers"]) >= 2


def test_pim_config_file(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"widths": [8, 16, 32]}))
    assert main(["pim", "--model", "lenet", "--config", str(cfg)]) == 0
    assert "config 8-16-32" in capsys.readouterr().out
    cfg.write_text(json.dumps({"widths": [8, 16, 31]}))
    assert main(["pim", "--model", "lenet", "--config", str(cfg)]) == 2
    assert "slot 'fc1'" in capsys.readouterr().err


def test_pim_presets_and_errors(capsys):
    assert main(["pim", "presets"]) == 0
    text = capsys.readouterr().out
    assert "sot-mram" in text and "NVSim" in text
    assert main(["pim"]) == 2
    assert "--model is required" in capsys.readouterr().err
    assert main(["pim", "--model", "lenet", "--preset", "nope"]) == 2
    assert "unknown hardware preset" in capsys.readouterr().err
    assert main(["pim", "--model", "lenet", "--input-size", "1,28"]) == 2
    assert "--input-size" in capsys.readouterr().err
    assert main(["pim", "--model", "lenet", "--active-subarrays", "0"]) == 2
    assert "active_subarrays" in capsys.readouterr().err


def test_pim_mapping_fit_and_rate(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["pim", "--model", "resnet18", "--input-size", "3,32,32", "--fit",
                 "--mapping", "channel", "--rate", "100", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fitted chip:" in text and "channel mapping" in text and "at 100 inferences/s" in text
    data = json.loads(out.read_text())
    r = data["results"][0]
    assert data["mapping"] == "channel" and r["fits"] and data["subarrays"] > 512
    assert data["average_power_w"][0] < r["avg_power_w"]  # idle time between inferences
    assert main(["pim", "--model", "lenet", "--fit-headroom", "2"]) == 2
    assert "--fit-headroom needs --fit" in capsys.readouterr().err
    assert main(["pim", "--model", "lenet", "--rate", "1e9"]) == 2
    assert "rate_hz must be in" in capsys.readouterr().err


def test_eng_prefixes():
    from dynpim.cli.pim import eng

    assert eng(2.5e-6, "s") == "2.50 µs"
    assert eng(785.25e-6, "J") == "785 µJ"
    assert eng(0.0123, "W") == "12.3 mW"


def test_cli_choices_match_the_model():
    from dynpim import pim
    from dynpim.cli import pim as cli_pim

    assert cli_pim.MAPPINGS == pim.MAPPINGS
    assert cli_pim.DEFAULT_MAPPING == pim.DEFAULT_MAPPING
    assert cli_pim.DEFAULT_PRESET == pim.DEFAULT_PRESET


def test_defaults_are_one_torch_free_constant():
    """``dynpim.pim.DEFAULT_PRESET`` (and the mapping names) are dynpim.defaults' objects; that
    module imports no torch, so the CLI's option defaults read it at registration."""
    import subprocess
    import sys

    from dynpim import defaults, pim
    from dynpim.stages import EvalOptions, TableOptions

    assert pim.DEFAULT_PRESET is defaults.DEFAULT_PRESET == "sot-mram"
    assert pim.MAPPINGS is defaults.MAPPINGS and pim.DEFAULT_MAPPING is defaults.DEFAULT_MAPPING
    assert pim.load_preset().name == pim.DEFAULT_PRESET
    assert EvalOptions.__dataclass_fields__["preset"].default == pim.DEFAULT_PRESET
    assert TableOptions.__dataclass_fields__["preset"].default == pim.DEFAULT_PRESET
    code = "import sys, dynpim.defaults; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
