"""MACs, layer specs and parameters of every registered model at its max, min and 20 random
configs, pinned by values captured before the config -> GEMM-dimension road became one
``LayerTable`` (issue 19 item 3): ``DynamicNet.macs`` / ``layer_specs`` / ``params`` and
``dynpim.search.macs_many`` must still give exactly these numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dynpim.models import create_model, list_models
from dynpim.nn import SubnetConfig
from dynpim.search import macs_many

GOLDEN = json.loads(Path(__file__).with_name("layer_table_golden.json").read_text())


def test_every_registered_model_is_pinned():
    assert sorted(GOLDEN) == sorted(list_models())


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_macs_specs_and_params_are_unchanged(name):
    want = GOLDEN[name]
    model = create_model(name)
    cfgs = [SubnetConfig(w) for w in want["configs"]]
    assert [model.macs(c) for c in cfgs] == want["macs"]
    assert macs_many(model, cfgs).tolist() == want["macs"]
    assert [model.params(c) for c in cfgs] == want["params"]
    h = hashlib.sha256()
    for c in cfgs:
        h.update(repr(model.layer_specs(c)).encode())
    assert h.hexdigest() == want["specs_sha"]
