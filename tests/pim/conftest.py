"""Fixtures of the pim tests (helpers live in pim_helpers.py)."""

import pytest
from pim_helpers import simple_dict, tiny_net

from dynpim.pim import hardware_from_dict


@pytest.fixture
def simple_hw():
    return hardware_from_dict(simple_dict(), "simple")


@pytest.fixture
def tiny():
    return tiny_net()
