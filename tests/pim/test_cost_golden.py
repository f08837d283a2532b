"""``estimate`` and ``estimate_many`` share one road (``pim.cost.network_costs``); their numbers
are pinned bit for bit by digests captured before that refactor (issue 19 item 3): every preset
x both mappings x quantized and float models x a few configs and power caps."""

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynpim import pim
from dynpim.models import create_model

GOLDEN = Path(__file__).with_name("cost_golden.json")
CASES = [("lenet", (1, 28, 28), None), ("lenet", (1, 28, 28), (4, 4)),
         ("resnet20", (3, 32, 32), (8, 8)), ("mobilenet_v1", (3, 32, 32), None)]


def _flat(x) -> str:
    """A canonical, bit-exact text of a result (floats as hex)."""
    if isinstance(x, dict):
        return "{" + ",".join(f"{k}:{_flat(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return "[" + ",".join(_flat(v) for v in x) + "]"
    if isinstance(x, np.ndarray):
        return f"{x.dtype}{x.shape}" + _flat(x.tolist())
    if isinstance(x, float):
        return x.hex()
    return repr(x)


def digest(name: str, size, quant, preset: str, mapping: str) -> str:
    kw = {"num_classes": 10, "in_channels": size[0]}
    if quant:
        kw.update(wbits=quant[0], abits=quant[1])
    model = create_model(name, **kw)
    g = torch.Generator().manual_seed(0)
    cfgs = [model.max_config(), model.min_config(), model.random_config(g)]
    hw = pim.load_preset(preset)
    h = hashlib.sha256()
    for active in (None, 3):
        for c in cfgs:
            r = pim.estimate(model, c, hw, size, active, mapping=mapping)
            h.update(_flat(dataclasses.asdict(r)).encode())
        many = pim.estimate_many(model, cfgs, hw, size, active, mapping=mapping)
        h.update(_flat(many.to_dict()).encode())
    return h.hexdigest()


def _keys():
    return [(n, s, q, p, m) for n, s, q in CASES for p in pim.preset_names() for m in pim.MAPPINGS]


def _key(k) -> str:
    n, _, q, p, m = k
    bits = "float" if q is None else f"w{q[0]}a{q[1]}"
    return f"{n}/{bits}/{p}/{m}"


@pytest.mark.parametrize("case", _keys(), ids=_key)
def test_costs_match_the_captured_digests(case):
    want = json.loads(GOLDEN.read_text())
    assert digest(*case) == want[_key(case)]


if __name__ == "__main__":  # re-capture (only after checking a change of numbers is intended)
    GOLDEN.write_text(json.dumps({_key(k): digest(*k) for k in _keys()}, indent=1) + "\n")
