"""Slots (independent channel dimensions) and sub-network configurations.

A *slot* is one channel dimension that can be narrowed at run time. Layers whose channel counts
must agree (residual additions, depthwise convolutions) share one slot. A ``SubnetConfig`` gives
one active width per slot, in the order of ``model.slots``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dynpim.errors import is_integer, is_real


@dataclass(frozen=True)
class Slot:
    """One independent channel dimension of a dynamic model.

    Valid widths are the multiples of ``step`` between ``min_channels`` and ``max_channels``.
    """

    name: str
    max_channels: int
    min_channels: int
    step: int = 1

    def __post_init__(self) -> None:
        if self.step < 1:
            raise ValueError(f"slot {self.name!r}: step must be >= 1, got {self.step}")
        if not 1 <= self.min_channels <= self.max_channels:
            raise ValueError(
                f"slot {self.name!r}: need 1 <= min_channels <= max_channels, "
                f"got min={self.min_channels}, max={self.max_channels}"
            )
        for what, v in (("min_channels", self.min_channels), ("max_channels", self.max_channels)):
            if v % self.step:
                raise ValueError(f"slot {self.name!r}: {what}={v} is not a multiple of {self.step}")

    @classmethod
    def make(cls, name: str, max_channels: int, *, min_ratio: float = 0.25,
             groups: int = 8) -> Slot:
        """Slot whose step is ``max_channels / groups`` (1 when that does not divide evenly)."""
        divisible = max_channels % groups == 0 and max_channels >= groups
        step = max_channels // groups if divisible else 1
        min_channels = max(step, math.ceil(max_channels * min_ratio / step) * step)
        return cls(name, max_channels, min(min_channels, max_channels), step)

    def allowed(self) -> range:
        """All valid widths of this slot, ascending."""
        return range(self.min_channels, self.max_channels + 1, self.step)

    def check(self, width: int) -> None:
        """Raise ``ValueError`` naming this slot when ``width`` is not a valid width."""
        if not is_integer(width):
            raise ValueError(f"slot {self.name!r}: width must be an int, got {width!r}")
        if self.invalid(width):
            raise ValueError(self._not_allowed(width))

    def invalid(self, widths: Any) -> Any:
        """True where a width (one int or an integer array) breaks this slot's rule
        (:func:`invalid_widths`)."""
        return invalid_widths(widths, self.min_channels, self.max_channels, self.step)

    def _not_allowed(self, width: int) -> str:
        return (f"slot {self.name!r}: width {width} not allowed; allowed range is "
                f"{self.min_channels}..{self.max_channels} in steps of {self.step}")

    def round(self, value: float) -> int:
        """Nearest valid width to ``value`` channels."""
        w = int(round(value / self.step)) * self.step
        return max(self.min_channels, min(self.max_channels, w))


def invalid_widths(widths: Any, lo: Any, hi: Any, step: Any) -> Any:
    """The one width rule, elementwise (numpy broadcasting, or plain ints): True where a width
    is outside ``lo..hi`` or not a multiple of ``step``."""
    return (widths < lo) | (widths > hi) | (widths % step != 0)


class HasSlots(Protocol):
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class SubnetConfig:
    """Active channel count per slot; frozen, hashable and JSON round-trippable."""

    widths: tuple[int, ...]
    key: str = field(init=False, repr=False, compare=False)

    def __init__(self, widths: Iterable[int]) -> None:
        widths = tuple(widths)
        for w in widths:
            if not is_integer(w):
                raise ValueError(f"SubnetConfig widths must be ints, got {w!r}")
        widths = tuple(int(w) for w in widths)  # numpy integers -> int
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "key", "-".join(map(str, widths)))

    def __len__(self) -> int:
        return len(self.widths)

    def __iter__(self):
        return iter(self.widths)

    def __getitem__(self, i: int) -> int:
        return self.widths[i]

    def validate(self, slots: Sequence[Slot]) -> SubnetConfig:
        """Check length and every width against ``slots``; return self."""
        if len(self.widths) != len(slots):
            raise ValueError(
                f"config has {len(self.widths)} widths but the model has {len(slots)} slots "
                f"({', '.join(s.name for s in slots)})"
            )
        for slot, w in zip(slots, self.widths):
            slot.check(w)
        return self

    @classmethod
    def uniform(cls, model: HasSlots | Sequence[Slot], ratio: float) -> SubnetConfig:
        """Same fraction ``ratio`` of every slot, rounded to each slot's step."""
        slots = model.slots if hasattr(model, "slots") else tuple(model)
        if not is_real(ratio) or not 0.0 < float(ratio) <= 1.0:
            raise ValueError(f"uniform width ratio must be in (0, 1], got {ratio!r}")
        return cls(s.round(float(ratio) * s.max_channels) for s in slots)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | Sequence[int]) -> SubnetConfig:
        if isinstance(d, dict):
            if "widths" not in d:
                raise ValueError(f"config object needs a 'widths' list, got keys {sorted(d)}")
            d = d["widths"]
        if not isinstance(d, (list, tuple)):
            raise ValueError(f"config widths must be a list of ints, got {type(d).__name__}")
        return cls(d)

    def to_dict(self) -> dict[str, list[int]]:
        return {"widths": list(self.widths)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> SubnetConfig:
        try:
            data = json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"config is not valid JSON: {e}") from None
        return cls.from_dict(data)

    def ratio(self, slots: Sequence[Slot]) -> float:
        """Mean fraction of channels kept over all slots (a label, not a cost)."""
        return sum(w / s.max_channels for w, s in zip(self.widths, slots)) / max(1, len(slots))


def validate_configs(slots: Sequence[Slot], configs: Any) -> np.ndarray:
    """Many configs (``SubnetConfig``s, width lists or an array) as one validated
    ``(n_configs, n_slots)`` int64 array: the one validation of the vectorised road
    (:class:`dynpim.nn.LayerTable`, ``dynpim.pim.estimate_many``); each width is checked by
    :meth:`Slot.invalid`, the rule :meth:`Slot.check` applies to one config."""
    if isinstance(configs, np.ndarray):
        arr = configs.astype(np.int64, copy=False)
    else:
        arr = np.array([c.widths if isinstance(c, SubnetConfig) else tuple(c) for c in configs],
                       dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != len(slots):
        raise ValueError(f"configs must be (n_configs, {len(slots)}) widths, got shape "
                         f"{arr.shape}")
    def per_slot(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in slots], dtype=np.int64)

    bad = invalid_widths(arr, per_slot("min_channels"), per_slot("max_channels"),
                         per_slot("step"))
    if bad.any():  # the first slot with a bad width, at its first bad config
        j = int(np.argmax(bad.any(axis=0)))
        raise ValueError(slots[j]._not_allowed(int(arr[:, j][bad[:, j]][0])))
    return arr


def load_configs(path: str) -> list[SubnetConfig]:
    """Read a JSON file holding a list of configs (``[{"widths": [...]}, ...]`` or lists)."""
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
    if isinstance(data, dict) and "configs" in data:
        data = data["configs"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty JSON list of configs")
    return [SubnetConfig.from_dict(d) for d in data]


def save_configs(path: str, configs: Sequence[SubnetConfig]) -> None:
    """Write configs as a JSON list of ``{"widths": [...]}`` objects."""
    with open(path, "w") as f:
        json.dump({"configs": [c.to_dict() for c in configs]}, f, indent=1)
