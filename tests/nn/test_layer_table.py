"""MACs, layer specs and parameters of every registered model at its max, min and 20 random
configs, pinned by values captured before the config -> GEMM-dimension road became one
``LayerTable`` (issue 19 item 3): ``DynamicNet.macs`` / ``layer_specs`` / ``params`` and
``dynpim.search.macs_many`` must still give exactly these numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynpim.models import create_model, list_models
from dynpim.nn import LayerTable, Slot, SubnetConfig, validate_configs, widths_matrix
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
    table = model.layer_table_at()
    assert table.macs(cfgs).tolist() == want["macs"]
    assert table.macs(np.array(want["configs"])).tolist() == want["macs"]
    assert macs_many(model, cfgs).tolist() == want["macs"]
    assert [model.params(c) for c in cfgs] == want["params"]
    h = hashlib.sha256()
    for c in cfgs:
        h.update(repr(model.layer_specs(c)).encode())
    assert h.hexdigest() == want["specs_sha"]


def test_widths_and_gemm_follow_the_layer_specs():
    model = create_model("resnet20_untied")
    g = torch.Generator().manual_seed(3)
    cfgs = [model.random_config(g) for _ in range(5)]
    table = model.layer_table_at()
    cin, cout = table.widths(cfgs)
    m, k, n, grp = table.gemm(cfgs)
    assert cin.dtype == cout.dtype == np.int64 and cin.shape == (5, len(table))
    assert cin.flags.c_contiguous and cout.flags.c_contiguous
    for i, c in enumerate(cfgs):
        specs = model.layer_specs(c)
        assert cin[i].tolist() == [s.in_channels for s in specs]
        assert cout[i].tolist() == [s.out_channels for s in specs]
        assert [(int(a), int(b), int(d)) for a, b, d in zip(m[i], k[i], n[i])] == \
            [s.gemm for s in specs]
        assert int((m[i] * k[i] * n[i]).sum()) == model.macs(c)
    arr = np.array([c.widths for c in cfgs])
    old = widths_matrix(list(table), arr)
    assert np.array_equal(old[0], cin) and np.array_equal(old[1], cout)


def test_built_once_per_input_size_and_a_sequence_of_specs():
    model = create_model("lenet")
    table = model.layer_table_at()
    assert isinstance(table, LayerTable) and model.layer_table_at() is table
    assert model.layer_table_at(model.input_size) is table
    assert list(table) == model.layer_table() and table[0] is table.specs[0]
    assert table.slots is model.slots
    other = model.layer_table_at((1, 32, 32))
    assert other is not table and other[0].in_hw == (32, 32)
    model.slots = tuple(list(model.slots))  # a replaced (equal) slots tuple: rebuilt
    rebuilt = model.layer_table_at()
    assert rebuilt is not table and rebuilt.specs == table.specs


def test_one_validation_with_the_messages_of_today():
    model = create_model("lenet")
    table = model.layer_table_at()
    s0 = model.slots[0]
    n = len(model.slots)
    with pytest.raises(ValueError, match=rf"^configs must be \(n_configs, {n}\) widths, got "
                                         rf"shape \(1, {n + 1}\)$"):
        table.macs([[s0.max_channels] * (n + 1)])
    bad = [s.max_channels for s in model.slots]
    bad[0] = s0.max_channels + 1
    with pytest.raises(ValueError) as one:
        model.macs(bad)
    with pytest.raises(ValueError) as many:
        table.widths([model.max_config().widths, bad])
    assert str(one.value) == str(many.value) == (
        f"slot {s0.name!r}: width {bad[0]} not allowed; allowed range is "
        f"{s0.min_channels}..{s0.max_channels} in steps of {s0.step}")
    with pytest.raises(ValueError, match=f"{n} slots"):
        model.macs([s0.max_channels] * (n + 1))


def test_slot_rule_scalar_and_vectorised_agree():
    slot = Slot("a", 16, 4, 4)
    widths = np.arange(0, 21)
    mask = slot.invalid(widths)
    for w, bad in zip(widths.tolist(), mask.tolist()):
        assert bool(slot.invalid(w)) == bad
        if bad:
            with pytest.raises(ValueError, match="not allowed"):
                slot.check(w)
        else:
            slot.check(w)
    assert validate_configs([slot], [[4], [16]]).tolist() == [[4], [16]]


def test_the_first_bad_slot_is_named_at_its_first_bad_config():
    slots = [Slot("a", 16, 4, 4), Slot("b", 8, 2, 2)]
    arr = np.array([[16, 3], [8, 8], [5, 2], [7, 9]])  # slot a fails at rows 2, 3; b at 0, 3
    with pytest.raises(ValueError, match=r"^slot 'a': width 5 not allowed; allowed range is "
                                         r"4\.\.16 in steps of 4$"):
        validate_configs(slots, arr)
    with pytest.raises(ValueError, match=r"^slot 'b': width 3 not allowed"):
        validate_configs(slots, arr[:2])
