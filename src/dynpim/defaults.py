"""Names the library and the front-ends share, importable without torch: ``dynpim --help``
registers every sub-command (their option defaults and choices) on each start, and
``dynpim.pim`` imports torch. ``dynpim.pim`` re-exports them (``pim.DEFAULT_PRESET``,
``pim.MAPPINGS``, ``pim.DEFAULT_MAPPING``); nothing else spells them."""

from __future__ import annotations

DEFAULT_PRESET = "sot-mram"  # the hardware preset when none is named (dynpim/pim/presets/)
MAPPINGS: tuple[str, ...] = ("pixel", "channel")  # weight mappings of the dataflow
DEFAULT_MAPPING = "pixel"

__all__ = ["DEFAULT_MAPPING", "DEFAULT_PRESET", "MAPPINGS"]
