import json

import pytest

from dynpim.nn import SubnetConfig
from dynpim.runtime import SCHEMA, OperatingPoint, OperatingTable


def point(**kw):
    d = dict(config=SubnetConfig([8, 8]), active_subarrays=4, accuracy=0.9, latency_s=1e-3,
             energy_j=1e-4, avg_power_w=0.1)
    d.update(kw)
    return OperatingPoint(**d)


def test_roundtrip(tmp_path, table):
    path = tmp_path / "t.json"
    table.save(path)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and len(data["points"]) == len(table)
    back = OperatingTable.load(path)
    assert back.points == table.points
    assert back.meta == table.meta


@pytest.mark.parametrize("field,value", [("accuracy", 1.5), ("accuracy", -0.1),
                                         ("latency_s", 0.0), ("energy_j", -1.0),
                                         ("avg_power_w", float("nan")), ("active_subarrays", 0)])
def test_point_rejects_bad_numbers(field, value):
    with pytest.raises(ValueError, match=field):
        point(**{field: value})


def test_peak_below_average_rejected():
    with pytest.raises(ValueError, match="peak_power_w"):
        point(peak_power_w=0.01)


def test_load_errors_name_the_field(tmp_path, table):
    good = table.to_dict()
    cases = [
        ({**good, "points": []}, "empty"),
        ({k: v for k, v in good.items() if k != "points"}, "'points'"),
        ({**good, "schema": "other/1"}, "schema"),
        ({**good, "points": [{k: v for k, v in good["points"][0].items() if k != "latency_s"}]},
         r"points\[0\].*latency_s"),
        ({**good, "points": [good["points"][0], {**good["points"][1], "energy_j": -2}]},
         r"points\[1\].*energy_j"),
        ({**good, "points": [good["points"][0], good["points"][0]]}, "duplicates"),
        ({**good, "points": [good["points"][0], {**good["points"][1], "config": {"widths": [4]}}]},
         "same model"),
    ]
    for i, (data, msg) in enumerate(cases):
        p = tmp_path / f"bad{i}.json"
        p.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=msg):
            OperatingTable.load(p)
    p = tmp_path / "garbage.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        OperatingTable.load(p)
    with pytest.raises(FileNotFoundError):
        OperatingTable.load(tmp_path / "missing.json")


def test_pareto_drops_dominated_points():
    a = point(config=SubnetConfig([8, 8]), accuracy=0.9)
    b = point(config=SubnetConfig([4, 4]), accuracy=0.8, energy_j=5e-5, avg_power_w=0.05)
    dominated = point(config=SubnetConfig([4, 8]), accuracy=0.85, energy_j=2e-4)
    t = OperatingTable.from_points([a, b, dominated])
    assert t.pareto().points == (a, b)


def test_summary_and_describe(table):
    s = table.summary()
    assert s["points"] == 8 and s["configs"] == 4 and s["active_subarrays"] == [16, 64]
    assert s["accuracy"] == [pytest.approx(0.675), pytest.approx(0.9)]
    text = table.describe()
    assert "8 points" in text and "16-16-16@64" in text


def test_cheapest_and_most_accurate(table):
    t = table
    assert t.most_accurate().accuracy == pytest.approx(0.9)
    assert t.most_accurate().active_subarrays == 16  # same accuracy, same energy, lower power
    assert t.cheapest().avg_power_w == min(p.avg_power_w for p in t)


def test_describe_keeps_whole_labels_and_units():
    from dynpim.nn import SubnetConfig
    from dynpim.runtime import OperatingPoint

    cfg = SubnetConfig([16, 32, 64, 16, 16, 16, 32, 32, 32, 64, 64, 64])
    p = OperatingPoint(cfg, 512, 0.9125, 4.3e-5, 1.64e-5, 0.383)
    text = OperatingTable.from_points([p], {"accuracy_split": "validation"}).describe()
    assert "16-32-64-16-16-16-32-32-32-64-64-64@512" in text            # the level is kept
    assert "acc (%, validation)" in text and "latency (µs)" in text and "energy (µJ)" in text
    assert "power (mW)" in text and "91.25" in text and "43.00" in text and "383.00" in text
