"""Evaluation rows are typed :class:`EvalRow` records (``top1`` + ``split``); the dict edge
(``evaluate_configs``, JSON/CSV tables) keeps the ``top1_<split>`` keys (issue 19)."""

import csv
import json

import pytest

from dynpim.models import create_model
from dynpim.train.evaluate import (
    TOP1_KEYS,
    EvalRow,
    calibration_batches,
    evaluate_configs,
    evaluate_rows,
    format_table,
    write_table,
)


@pytest.fixture(scope="module")
def model():
    return create_model("lenet", num_classes=4, in_channels=3, image_size=8)


@pytest.mark.parametrize("split", ["validation", "test"])
def test_rows_are_typed_and_their_dicts_keep_the_old_keys(model, synth, split):
    cfgs = [model.max_config(), model.min_config()]
    calib = calibration_batches(synth, batch_size=64, num_batches=2)
    rows = evaluate_rows(model, cfgs, synth, calib, split=split)
    assert [type(r) for r in rows] == [EvalRow, EvalRow]
    assert all(r.split == split and 0 <= r.top1 <= 100 for r in rows)
    assert rows[0].macs <= rows[1].macs and rows[0].config == model.min_config().key
    dicts = evaluate_configs(model, cfgs, synth, calib, split=split)
    assert dicts == [r.to_dict() for r in rows]
    assert list(dicts[0]) == ["config", "widths", "ratio", "macs", "params", "top1_" + split,
                              "accuracy_split"]
    assert dicts[0]["top1_" + split] == rows[0].top1 and dicts[0]["accuracy_split"] == split
    assert [EvalRow.from_dict(d) for d in dicts] == rows
    assert format_table(rows) == format_table(dicts)
    assert f"| top1_{split} (%) |" in format_table(rows)


def test_from_dict_ignores_extra_columns_and_rejects_unknown_splits():
    row = EvalRow("8-16", (8, 16), 0.5, 1000, 20, 91.25, "test")
    d = {**row.to_dict(), "top1_pim": 90.0}
    assert EvalRow.from_dict(d) == row
    with pytest.raises(ValueError, match="accuracy_split"):
        EvalRow.from_dict({**row.to_dict(), "accuracy_split": "train"})
    with pytest.raises(ValueError, match="split"):
        EvalRow("8-16", (8, 16), 0.5, 1000, 20, 91.25, "holdout")
    assert set(TOP1_KEYS) == {"validation", "test"}


def test_write_table_takes_records_and_dicts(tmp_path):
    rows = [EvalRow("8-16", (8, 16), 0.5, 1000, 20, 91.25, "validation"),
            EvalRow("16-32", (16, 32), 1.0, 4000, 80, 93.5, "validation")]
    jp, cp = write_table(rows, str(tmp_path / "a"))
    data = json.loads(open(jp).read())
    assert data == {"accuracy_split": "validation", "rows": [r.to_dict() for r in rows]}
    with open(cp) as f:
        got = list(csv.DictReader(f))
    assert got[1]["widths"] == "16-32" and got[1]["top1_validation"] == "93.5"
    merged = [{**r.to_dict(), "top1_pim": 1.0} for r in rows]
    jp2, _ = write_table(merged, str(tmp_path / "b"))
    assert json.loads(open(jp2).read())["rows"] == merged
