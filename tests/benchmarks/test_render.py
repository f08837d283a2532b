"""docs/benchmarks.md is exactly what the renderer makes of the committed results, and every
section states the split behind its accuracies."""

import json

import pytest
import run_all


def test_doc_rerenders_byte_identically():
    assert run_all.DOC.read_text() == run_all.render()


def test_every_result_names_its_split():
    paths = sorted((run_all.HERE / "results").glob("*.json"))
    assert paths
    for path in paths:
        text = run_all.split_text(path.stem, json.loads(path.read_text()))
        assert text != "not recorded", path.name
    assert run_all.render().count("- accuracy split: ") == len(paths)


@pytest.mark.parametrize("data,want", [
    ({"accuracy_split": "validation"}, "validation"),
    ({"accuracy_split": {"selection": "validation", "reported": "test"}},
     "selection: validation; reported: test"),
    ({}, "not recorded"),
])
def test_split_text_prefers_the_recorded_field(data, want):
    assert run_all.split_text("new_benchmark", data) == want


def test_machine_text_shows_load_and_affinity():
    assert run_all.machine_text({}) == "load average not recorded"
    m = {"load_avg_1_5_15min": [1.5, 0.25, 2.0], "cpu_affinity": [0, 1]}
    assert run_all.machine_text(m) == "load average 1.5/0.25/2 (1/5/15 min), 2 CPUs in affinity"
