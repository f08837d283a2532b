"""The argparse types shared by the sub-commands (``dynpim.cli``)."""

import argparse

import pytest

from dynpim.cli import int_list, widths_list


def test_int_list_parses_and_names_what_is_missing():
    parse = int_list("thread count")
    assert parse("1, 2,4") == [1, 2, 4]
    with pytest.raises(argparse.ArgumentTypeError, match="comma-separated ints, got '1,x'"):
        parse("1,x")
    with pytest.raises(argparse.ArgumentTypeError, match="at least one thread count"):
        parse(" , ")


def test_widths_list_keeps_widths_in_range():
    assert widths_list("0.25,1") == (0.25, 1.0)
    with pytest.raises(argparse.ArgumentTypeError, match=r"\(0, 1\]"):
        widths_list("0.5,1.5")
