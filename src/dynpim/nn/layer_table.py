"""``LayerTable``: the one road from sub-net configs to layer widths and GEMM dimensions.

A model's conv / linear layers at max width (:class:`LayerSpec`, with the slot that sets each
layer's input and output channels) at one input size, and the model's slots. ``widths``,
``gemm`` and ``macs`` take many configs at once (``SubnetConfig``s, width lists or an
``(n_configs, n_slots)`` array), validate them once (:func:`dynpim.nn.slots.validate_configs`)
and answer with ``(n_configs, n_layers)`` int64 arrays. ``DynamicNet.layer_table_at`` builds it
once per input size; ``DynamicNet.macs`` / ``layer_specs``, ``dynpim.search.macs_many`` and the
PIM cost model (``dynpim.pim.estimate`` / ``estimate_many``) all read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from .slots import Slot, validate_configs
from .specs import LayerGeometry, LayerSpec


@dataclass(frozen=True, eq=False)
class LayerTable(Sequence[LayerSpec]):
    """The max-width layers of a model (a sequence of :class:`LayerSpec`) with its slots.

    ``geometry`` holds the per-layer arrays (slot indices, max widths, kernel area, output
    pixels, depthwise, groups) every vectorised answer is computed from.
    """

    specs: tuple[LayerSpec, ...]
    slots: tuple[Slot, ...]
    geometry: LayerGeometry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "specs", tuple(self.specs))
        object.__setattr__(self, "slots", tuple(self.slots))
        n = len(self.slots)
        for s in self.specs:
            for i in (s.in_slot, s.out_slot):
                if i is not None and not 0 <= i < n:
                    raise ValueError(f"layer {s.name!r} names slot index {i}; the model has "
                                     f"{n} slots")
        object.__setattr__(self, "geometry", LayerGeometry.of(self.specs))

    # -- the sequence of max-width layers ----------------------------------------------------
    def __len__(self) -> int:
        return len(self.specs)

    @overload
    def __getitem__(self, i: int) -> LayerSpec: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[LayerSpec]: ...

    def __getitem__(self, i: int | slice) -> LayerSpec | Sequence[LayerSpec]:
        return self.specs[i]

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self.specs)

    # -- configs -> widths -> GEMM dimensions ------------------------------------------------
    def configs_array(self, configs: Any) -> np.ndarray:
        """``configs`` as a validated ``(n_configs, n_slots)`` int64 array (``ValueError``
        names the shape or the slot)."""
        return validate_configs(self.slots, configs)

    def widths(self, configs: Any) -> tuple[np.ndarray, np.ndarray]:
        """In / out channels of every layer: two ``(n_configs, n_layers)`` int64 arrays."""
        return self.geometry.channels(self.configs_array(configs))

    def gemm(self, configs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(m, k, n, g)`` of every layer, each ``(n_configs, n_layers)``."""
        return self.geometry.gemm(*self.widths(configs))

    def macs(self, configs: Any) -> np.ndarray:
        """Multiply-accumulates of one inference of every config, ``(n_configs,)`` int64."""
        return self.geometry.macs(self.configs_array(configs))

    def specs_at(self, widths: Sequence[int]) -> list[LayerSpec]:
        """The layers at one already validated config's ``widths`` (Python ints)."""
        cin, cout = self.geometry.channels(np.asarray([widths], dtype=np.int64)
                                           .reshape(1, len(self.slots)))
        return [s.at(i, o) for s, i, o in zip(self.specs, cin[0].tolist(), cout[0].tolist())]
