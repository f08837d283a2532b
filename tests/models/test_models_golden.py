"""Every registered model (float and quantized) gives the same ``state_dict`` keys and the same
outputs, bit for bit, as before the residual join became a module and quantization its own
package (hashes captured then: ``golden_models.py``)."""

import json
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from golden_models import GOLDEN, VARIANTS, digest  # noqa: E402

from dynpim.models import list_models  # noqa: E402

with open(GOLDEN) as fh:
    EXPECTED = json.load(fh)


def test_every_registered_model_has_golden_hashes():
    assert set(EXPECTED) == {f"{n}:{v}" for n in list_models() for v in VARIANTS}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_state_dict_keys_and_outputs_are_unchanged(case):
    threads = torch.get_num_threads()
    try:
        got = digest(*case.split(":"))
    finally:
        torch.set_num_threads(threads)
    want = EXPECTED[case]
    assert got["keys"] == want["keys"], f"{case}: state_dict keys or shapes changed"
    assert got == want, f"{case}: changed " + ", ".join(k for k in want if got.get(k) != want[k])
