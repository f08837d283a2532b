"""``dynpim search`` without ``--holdout`` scores on the checkpoint's whole held-out split when
it is smaller than 2500 samples (digits: 300), instead of refusing."""

from dynpim.cli import main
from dynpim.search import read_trajectory


def test_default_holdout_fits_the_checkpoint(trained, tmp_path):
    _, ck = trained                       # synthetic data: 64 held-out samples
    out = tmp_path / "s"
    assert main(["search", "--checkpoint", ck, "--out", str(out), "--max-steps", "1",
                 "--calib-batches", "1", "--calib-batch-size", "64", "--k", "2", "--quiet"]) == 0
    header, _ = read_trajectory(str(out / "trajectory.jsonl"))
    assert header["meta"]["holdout"] == 64


def test_explicit_holdout_is_still_checked(trained, tmp_path, capsys):
    _, ck = trained
    assert main(["search", "--checkpoint", ck, "--out", str(tmp_path / "s"),
                 "--holdout", "0"]) == 2
    assert "--holdout must be >= 1" in capsys.readouterr().err


def test_search_log_has_units(trained, tmp_path, capsys):
    _, ck = trained
    assert main(["search", "--checkpoint", ck, "--out", str(tmp_path / "s"), "--max-steps", "1",
                 "--calib-batches", "1", "--calib-batch-size", "64", "--k", "2"]) == 0
    steps = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("step ")]
    assert len(steps) == 2                                  # the largest config, one removal
    assert all("validation top-1 " in ln and " % " in ln and "MMACs" in ln and " µJ " in ln
               for ln in steps)
