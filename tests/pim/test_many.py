"""``estimate_many`` returns a frozen :class:`CostArrays` record: ``row(i)`` is config ``i``'s
estimate, bit for bit; the flat dict edge round-trips (issue 19)."""

import dataclasses

import numpy as np
import pytest
import torch

from dynpim.models import create_model
from dynpim.pim import COMPONENTS, estimate, estimate_many, load_preset
from dynpim.pim.many import CostArrays, CostRow

MODEL = create_model("lenet", num_classes=10, in_channels=1)
SIZE = (1, 28, 28)


def _configs(n: int = 6):
    g = torch.Generator().manual_seed(1)
    return [MODEL.random_config(g) for _ in range(n)] + [MODEL.min_config(), MODEL.max_config()]


@pytest.mark.parametrize("active", [None, 2, "per-config"])
def test_row_is_the_estimate_of_that_config(active):
    hw = load_preset("sot-mram")
    cfgs = _configs()
    act = np.arange(1, len(cfgs) + 1) if active == "per-config" else active
    many = estimate_many(MODEL, cfgs, hw, input_size=SIZE, active_subarrays=act)
    assert isinstance(many, CostArrays) and len(many) == len(cfgs)
    for i, c in enumerate(cfgs):
        a = int(act[i]) if active == "per-config" else active
        r = estimate(MODEL, c, hw, input_size=SIZE, active_subarrays=a)
        row = many.row(i)
        assert isinstance(row, CostRow)
        want = {f.name: getattr(r, f.name) for f in dataclasses.fields(CostRow)}
        assert dataclasses.asdict(row) == want
        assert set(row.energy_breakdown_j) == set(COMPONENTS)


def test_dict_edge_round_trips_and_keeps_the_old_keys():
    many = estimate_many(MODEL, _configs(), load_preset("sot-mram"), input_size=SIZE)
    d = many.to_dict()
    assert list(d) == ["latency_s", "energy_j", "avg_power_w", "peak_power_w", "utilisation",
                       "column_utilisation", *(f"energy_{c}_j" for c in COMPONENTS),
                       "idle_power_w", "macs", "active_subarrays"]
    back = CostArrays.from_dict(d)
    assert back == many and back.to_dict().keys() == d.keys()
    for k in d:  # the former dict's reads keep working
        assert k in many and np.array_equal(many[k], d[k])
    assert "top1" not in many and list(many) == list(d) == many.keys()
    other = CostArrays.from_dict({**d, "energy_j": d["energy_j"] * 2})
    assert other != many
    with pytest.raises(dataclasses.FrozenInstanceError):
        many.energy_j = d["energy_j"]  # type: ignore[misc]
