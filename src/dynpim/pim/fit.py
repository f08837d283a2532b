"""Size a chip to a model: the fewest banks (of the preset's mats and sub-arrays) that hold the
max-width weights at the densest packing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..nn.specs import LayerSpec
from .dataflow import subarrays_needed
from .hardware import Hardware


def fit_hardware(table: Sequence[LayerSpec], hw: Hardware, wbits, *, label: str = "model",
                 headroom: float = 1.0) -> Hardware:
    """``hw`` with as many banks as the layers ``table`` need (``headroom`` >= 1 multiplies the
    densest-packing sub-array count, leaving room to spread channels for speed). The bank count
    says in its source that it was sized by ``fit_hardware`` for ``label``."""
    if not headroom >= 1.0:
        raise ValueError(f"headroom must be >= 1, got {headroom!r}")
    need = subarrays_needed(table, hw, wbits)
    ar = hw.architecture
    per_bank = ar.mats_per_bank * ar.subarrays_per_mat
    banks = max(1, -(-int(need * headroom) // per_bank))
    sources = dict(hw.sources)
    sources["architecture.banks"] = (
        f"derived: sized by dynpim pim --fit for {label}: {need} sub-arrays at the densest "
        f"packing x headroom {headroom:g} -> {banks} banks of {per_bank} sub-arrays")
    return replace(hw, name=f"{hw.name}-fit", architecture=replace(ar, banks=banks),
                   sources=sources)
