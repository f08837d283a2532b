# ruff: noqa: E501  (one case per line, as the issue asks: command, exit code, message)
"""Bad inputs through the CLI (issue 20): each case is one line — the command, the exit code
and the one-line message it must get on stderr. Nothing here may print a traceback, destroy
another run, or start work before refusing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from dynpim.cli import main
from dynpim.models import create_model
from dynpim.nn import SubnetConfig
from dynpim.runtime import OperatingPoint, OperatingTable
from dynpim.train import save_checkpoint

FAST = ["--dataset", "synthetic", "--model", "lenet", "--batch-size", "64", "--calib-batches",
        "1", "--num-random", "1", "--no-progress", "--eval-widths", "0.5,1", "--lr", "0.05"]


def _forge(ck: Path, change) -> None:
    """Alter model.safetensors of checkpoint ``ck`` and update its hash (a forged file)."""
    fp = ck / "model.safetensors"
    w = load_file(fp)
    k = next(k for k, v in w.items() if v.is_floating_point())
    w[k] = change(w[k])
    save_file(w, fp)
    meta = json.loads((ck / "meta.json").read_text())
    meta["files"]["model.safetensors"] = hashlib.sha256(fp.read_bytes()).hexdigest()
    (ck / "meta.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> dict[str, str]:
    """A workspace: a finished train run, a simulate run, a demo-like run, an operating table,
    forged checkpoints, a plain file and a broken YAML file."""
    root = tmp_path_factory.mktemp("bad")
    run = str(root / "train_run")
    assert main(["train", "--epochs", "1", "--out", run, *FAST]) == 0
    pts = [OperatingPoint(SubnetConfig([4 * i] * 3), 16, 0.6 + 0.1 * i, 1e-4 * i, 1e-6 * i,
                          0.01 * i) for i in range(1, 4)]
    table = root / "table.json"
    OperatingTable.from_points(pts, {"model": {"name": "toy", "args": {}}}).save(table)
    sim = str(root / "sim_run")
    assert main(["runtime", "simulate", "--table", str(table), "--generate",
                 "ramp:duration_s=1,start_w=0.05,end_w=0.01,rate_hz=20", "--no-plots",
                 "--out", sim]) == 0
    demo = root / "demo_run"
    (demo / "uniform").mkdir(parents=True)
    (demo / "demo.json").write_text("{}")
    shutil.copytree(Path(run) / "checkpoint", demo / "uniform" / "checkpoint")
    for name, change in (("int64", lambda t: t.long()),
                         ("nan", lambda t: torch.full_like(t, float("nan")))):
        d = root / f"ck_{name}"
        shutil.copytree(Path(run) / "checkpoint", d)
        _forge(d, change)
    no_files = root / "ck_no_files"
    shutil.copytree(Path(run) / "checkpoint", no_files)
    meta = json.loads((no_files / "meta.json").read_text())
    del meta["files"]
    (no_files / "meta.json").write_text(json.dumps(meta))
    no_model = root / "ck_no_model"
    shutil.copytree(Path(run) / "checkpoint", no_model)
    meta = json.loads((no_model / "meta.json").read_text())
    del meta["model"]
    (no_model / "meta.json").write_text(json.dumps(meta))
    other = save_checkpoint(str(root / "resnet_ck"), create_model(
        "resnet20", num_classes=10, in_channels=1, image_size=8))
    meta = json.loads((Path(run) / "checkpoint" / "meta.json").read_text())
    narrow = save_checkpoint(str(root / "narrow_ck"), create_model(
        "lenet", **{**meta["model"]["args"], "width_mult": 0.5}))
    (root / "file").write_text("not a directory")
    (root / "broken.yaml").write_text("epochs: [1, 2\nlr: 0.1\n")
    (root / "notes").mkdir()
    (root / "notes" / "mine.txt").write_text("my own files")
    return {"run": run, "sim": sim, "demo": str(demo), "table": str(table),
            "int64": str(root / "ck_int64"), "nan": str(root / "ck_nan"),
            "no_model": str(no_model), "no_files": str(no_files), "narrow": narrow, "other": other, "file": str(root / "file"),
            "yaml": str(root / "broken.yaml"), "notes": str(root / "notes"), "root": str(root)}


SIM = ["runtime", "simulate", "--table", "{table}", "--no-plots"]
GEN = ["--generate", "ramp:duration_s=1,rate_hz=20"]

CASES = [  # (id, argv with {placeholders}, exit code, message on stderr)
    ("train over a finished train run", ["train", "--epochs", "1", "--out", "{run}", *FAST], 2, "holds a train run already; pass --resume to continue it or --overwrite to replace it"),
    ("train into a simulate run", ["train", "--out", "{sim}", *FAST], 2, "holds a simulate run; dynpim train does not write into it"),
    ("train into a demo's uniform/", ["train", "--out", "{demo}/uniform", *FAST], 2, "is inside the demo run"),
    ("train into someone's folder", ["train", "--out", "{notes}", *FAST], 2, "is not empty and is no dynpim run"),
    ("resume with another lr", ["train", "--resume", "--lr", "0.5", "--out", "{run}", *FAST[:-2]], 2, "cannot resume with changed hyper-parameters (lr 0.05 -> 0.5); name each in --override"),
    ("resume with another seed", ["train", "--resume", "--seed", "3", "--override", "seed", "--out", "{run}"], 2, "seed cannot change on resume"),
    ("override without resume", ["train", "--override", "lr", "--out", "{root}/new1", *FAST], 2, "--override only applies with --resume"),
    ("train --out below a file", ["train", "--out", "{file}/x", *FAST], 2, "is a file, not a directory"),
    ("train --init-from another model", ["train", "--init-from", "{other}", "--out", "{root}/new2", *FAST], 2, "holds a resnet20 model, this run trains lenet"),
    ("train --init-from a narrower lenet", ["train", "--init-from", "{narrow}", "--out", "{root}/new4", *FAST], 2, "narrow_ck: float state does not fit this model: body.0.0.weight has shape (16, 3, 5, 5), the model expects (32, 3, 5, 5)"),
    ("train --config broken YAML", ["train", "--config", "{yaml}", "--out", "{root}/new3"], 2, "broken.yaml: line 2, column 3: not valid YAML (expected ',' or ']', but got ':')"),
    ("simulate into a demo run", [*SIM, *GEN, "--out", "{demo}"], 2, "holds a demo run; dynpim simulate does not write into it"),
    ("simulate over a simulate run", [*SIM, *GEN, "--out", "{sim}"], 2, "holds a simulate run already; pass --overwrite to replace it"),
    ("simulate into a train run", [*SIM, *GEN, "--out", "{run}"], 2, "holds a train run; dynpim simulate does not write into it"),
    ("simulate --out below a file", [*SIM, *GEN, "--out", "{file}/x"], 2, "is a file, not a directory"),
    ("simulate a 1e12 s trace", [*SIM, "--generate", "walk:duration_s=1e12", "--out", "{root}/s1"], 2, "rows is more than 10,000,000"),
    ("simulate 1e9 requests", [*SIM, "--generate", "ramp:duration_s=1000,rate_hz=1e6", "--out", "{root}/s2"], 2, "expected requests (rate x time) is more than 20,000,000"),
    ("simulate negative idle power", [*SIM, *GEN, "--idle-power-w", "-1", "--out", "{root}/s3"], 2, "idle_power_w must be finite and >= 0, got -1.0"),
    ("trace of 1e12 s", ["runtime", "trace", "walk:duration_s=1e12", "--out", "{root}/t.csv"], 2, "rows is more than 10,000,000"),
    ("trace over an existing file", ["runtime", "trace", "ramp:duration_s=1", "--out", "{file}"], 2, "exists; pass --overwrite to replace it"),
    ("trace --out a directory", ["runtime", "trace", "ramp:duration_s=1", "--out", "{notes}"], 2, "is a directory; give a file path"),
    ("eval --out below a file", ["eval", "--checkpoint", "{run}", "--all", "--use-bank", "--out", "{file}/x"], 2, "is a file, not a directory"),
    ("eval meta.json without model", ["eval", "--checkpoint", "{no_model}", "--all", "--out", "{root}/e1"], 2, "meta.json lacks the required field 'model'"),
    ("eval meta.json without files", ["eval", "--checkpoint", "{no_files}", "--all", "--out", "{root}/e4"], 2, "meta.json lacks the required field 'files'"),
    ("eval int64 weights", ["eval", "--checkpoint", "{int64}", "--all", "--out", "{root}/e2"], 2, "has dtype torch.int64, the model expects torch.float32"),
    ("eval NaN weights", ["eval", "--checkpoint", "{nan}", "--all", "--out", "{root}/e3"], 2, "holds NaN or infinite values"),
    ("eval a missing checkpoint", ["eval", "--checkpoint", "{root}/nope", "--all"], 2, "does not exist"),
    ("search into a train run", ["search", "--checkpoint", "{run}", "--out", "{run}"], 2, "holds a train run; dynpim search does not write into it"),
    ("search into a demo's folder", ["search", "--checkpoint", "{run}", "--out", "{demo}/search"], 2, "is inside the demo run"),
    ("pim --json below a file", ["pim", "--model", "lenet", "--json", "{file}/p.json"], 2, "is a file, not a directory"),
    ("table --out below a file", ["table", "--checkpoint", "{run}", "--out", "{file}/t.json"], 2, "is a file, not a directory"),
    ("table --out a directory", ["table", "--checkpoint", "{run}", "--out", "{notes}"], 2, "is a directory; give a file path"),
    ("table over an existing table", ["table", "--checkpoint", "{run}", "--out", "{table}"], 2, "exists; pass --overwrite to replace it"),
    ("demo --bits 0", ["demo", "--bits", "0", "--out", "{root}/d1"], 2, "--bits must be 1..8"),
    ("demo --bits 32", ["demo", "--bits", "32", "--out", "{root}/d2"], 2, "--bits must be 1..8"),
]


@pytest.mark.parametrize("argv,rc,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(w, capsys, argv, rc, message) -> None:
    before = {p: sorted(os.listdir(w[p])) for p in ("run", "sim", "demo", "notes")}
    capsys.readouterr()
    assert main([a.format(**w) for a in argv]) == rc
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert before == {p: sorted(os.listdir(w[p])) for p in before}  # nothing touched


def test_internal_error_is_one_line_and_debug_shows_it(w, capsys, monkeypatch) -> None:
    from dynpim.runtime import OperatingTable

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr(OperatingTable, "load", boom)
    argv = ["runtime", "show", "--table", w["table"]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == ("dynpim runtime show: internal error: KeyError: 'surprise' (run with --debug "
                   "for the traceback)\n")
    with pytest.raises(KeyError):
        main([*argv, "--debug"])


def test_resume_override_is_recorded_and_overwrite_replaces(w, tmp_path, capsys) -> None:
    run = str(tmp_path / "r")
    assert main(["train", "--epochs", "1", "--max-steps", "3", "--out", run, *FAST]) == 0
    assert main(["train", "--resume", "--lr", "0.02", "--override", "lr", "--out", run]) == 0
    rec = json.loads(Path(run, "dynpim-run.json").read_text())
    assert rec["kind"] == "train" and rec["config"]["lr"] == 0.02
    assert rec["overrides"][0]["changes"] == {"lr": {"old": 0.05, "new": 0.02}}
    lines = Path(run, "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x).get("epoch") for x in lines[:-1]] == [1]
    assert main(["train", "--epochs", "1", "--overwrite", "--out", run, *FAST]) == 0
    rec = json.loads(Path(run, "dynpim-run.json").read_text())
    assert rec["overrides"] == [] and rec["config"]["lr"] == 0.05
    assert len(Path(run, "metrics.jsonl").read_text().splitlines()) == 2
