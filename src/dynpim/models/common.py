"""Building blocks shared by the zoo: one place that decides which layer classes a model uses."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from dynpim.errors import is_integer
from dynpim.nn import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear, Slot
from dynpim.quant import (
    ActQuant,
    InputQuant,
    QuantDynamicConv2d,
    QuantDynamicLinear,
    check_bits,
)


@dataclass(frozen=True)
class LayerFactory:
    """Creates the dynamic layers of a model; ``wbits``/``abits`` = 32 means float.

    Quantized (see :mod:`dynpim.quant`): convs/linears get per-channel ``wbits`` weights,
    ``act()`` is ReLU fused with an unsigned ``abits`` quantizer, a layer reading the network
    input (``in_slot=None`` conv) quantizes it affinely to ``input_bits``, and a linear layer
    re-quantizes its (pooled) input to ``abits``.
    """

    wbits: int = 32
    abits: int = 32
    input_bits: int = 8

    def __post_init__(self) -> None:
        check_bits("wbits", self.wbits)
        check_bits("abits", self.abits)
        check_bits("input_bits", self.input_bits)
        if self.input_bits == 32:
            raise ValueError("input_bits must be an int in 1..8, got 32")

    @property
    def quantized(self) -> bool:
        return (self.wbits, self.abits) != (32, 32)

    def _in_quant(self, in_slot: str | None, linear: bool) -> nn.Module | None:
        if self.abits == 32:
            return None
        if in_slot is None:
            return InputQuant(self.input_bits)
        return ActQuant(self.abits) if linear else None

    def conv(self, cin: int, cout: int, k: int, *, stride: int = 1, in_slot: str | None,
             out_slot: str | None, depthwise: bool = False) -> DynamicConv2d:
        if not self.quantized:
            return DynamicConv2d(cin, cout, k, stride=stride, padding=k // 2,
                                 depthwise=depthwise, in_slot=in_slot, out_slot=out_slot)
        return QuantDynamicConv2d(cin, cout, k, wbits=self.wbits,
                                  in_quant=self._in_quant(in_slot, False), stride=stride,
                                  padding=k // 2, depthwise=depthwise, in_slot=in_slot,
                                  out_slot=out_slot)

    def bn(self, c: int, slot: str | None) -> DynamicBatchNorm2d:
        return DynamicBatchNorm2d(c, slot=slot)

    def act(self) -> nn.Module:
        return nn.ReLU(inplace=False) if self.abits == 32 else ActQuant(self.abits)

    def linear(self, cin: int, cout: int, *, in_slot: str | None,
               out_slot: str | None = None) -> DynamicLinear:
        if not self.quantized:
            return DynamicLinear(cin, cout, in_slot=in_slot, out_slot=out_slot)
        return QuantDynamicLinear(cin, cout, in_slot=in_slot, out_slot=out_slot,
                                  wbits=self.wbits, in_quant=self._in_quant(in_slot, True))


def scaled(channels: int, width_mult: float) -> int:
    """Max channels of a layer at ``width_mult`` (at least 1)."""
    if not width_mult > 0:
        raise ValueError(f"width_mult must be > 0, got {width_mult!r}")
    return max(1, int(round(channels * width_mult)))


class SlotBook:
    """Collects the slots of a model as the builder declares them, in order."""

    def __init__(self, min_ratio: float = 0.25, groups: int = 8) -> None:
        if not 0 < min_ratio <= 1:
            raise ValueError(f"min_ratio must be in (0, 1], got {min_ratio!r}")
        self.slots: list[Slot] = []
        self.min_ratio, self.groups = min_ratio, groups

    def add(self, name: str, channels: int) -> str:
        self.slots.append(Slot.make(name, channels, min_ratio=self.min_ratio, groups=self.groups))
        return name


class ConvBNAct(nn.Sequential):
    """conv -> BN -> activation."""

    def __init__(self, f: LayerFactory, cin: int, cout: int, k: int, *, stride: int = 1,
                 in_slot: str | None, out_slot: str | None, depthwise: bool = False) -> None:
        super().__init__(
            f.conv(cin, cout, k, stride=stride, in_slot=in_slot, out_slot=out_slot,
                   depthwise=depthwise),
            f.bn(cout, out_slot),
            f.act(),
        )


class Classifier(nn.Sequential):
    """Global average pool -> flatten -> linear (``in_slot`` None: a fixed input width)."""

    def __init__(self, f: LayerFactory, cin: int, num_classes: int,
                 in_slot: str | None) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(), f.linear(cin, num_classes,
                                                                         in_slot=in_slot))


def check_common(num_classes: int, in_channels: int, image_size: int) -> None:
    for field, v in (("num_classes", num_classes), ("in_channels", in_channels),
                     ("image_size", image_size)):
        if not is_integer(v) or v < 1:
            raise ValueError(f"{field} must be a positive int, got {v!r}")
