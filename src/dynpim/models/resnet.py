"""Dynamic ResNets: CIFAR-style ResNet-20/56 and ImageNet-style ResNet-18.

Slots: one per stage for the residual-tied width (stem/stage outputs and every block output of
the stage share it), and one per block for its inner width, so non-uniform configs can narrow
every block independently.

Two variants bring the search space closer to the authors' (DAC'20 / TNNLS'22 ResNet-20):

* ``fine=True``: every slot steps by 1 channel and may shrink to 1 channel (``min_ratio``
  default 1/64 of the width, at least 1) instead of 1/8-of-width steps down to 25 %; uniform
  sampling then draws any channel count (US-Nets' continuum rounded to whole channels).
* ``untied=True`` (implies ``fine``): the stem and every block get their *own* output slot; the
  residual addition stays well defined because every block then has a 1x1 conv + BN projection
  shortcut (ResNet option B). ResNet-20 gets 19 slots, one per 3x3 conv, as the authors count
  them. *dynpim's choice*: the projections are extra layers (more weights and MACs) that the
  authors' masked-channel code does not have.

``resnet20_fine`` and ``resnet20_untied`` register these variants for ``dynpim train --model``.
"""

from __future__ import annotations

import math

from torch import nn

from dynpim.nn import DynamicNet, Residual, Slot

from .common import Classifier, ConvBNAct, LayerFactory, SlotBook, check_common, scaled
from .registry import register_model


class BasicBlock(Residual):
    """Two 3x3 convs with a residual connection (1x1 conv + BN projection when the shape
    changes): ``act(bn2(conv2(conv1(x))) + shortcut(x))``."""

    def __init__(self, f: LayerFactory, cin: int, mid: int, cout: int, stride: int, *,
                 in_slot: str, mid_slot: str, out_slot: str, project: bool = False) -> None:
        # built in this order (the weights' random initialisation follows it)
        conv1 = ConvBNAct(f, cin, mid, 3, stride=stride, in_slot=in_slot, out_slot=mid_slot)
        conv2 = f.conv(mid, cout, 3, in_slot=mid_slot, out_slot=out_slot)
        bn2 = f.bn(cout, out_slot)
        shortcut: nn.Module = nn.Identity()
        if project or stride != 1 or cin != cout or in_slot != out_slot:
            shortcut = nn.Sequential(
                f.conv(cin, cout, 1, stride=stride, in_slot=in_slot, out_slot=out_slot),
                f.bn(cout, out_slot),
            )
        super().__init__({"conv1": conv1, "conv2": conv2, "bn2": bn2}, shortcut, f.act())


class FineSlotBook(SlotBook):
    """Slots that step by one channel, minimum ``ceil(min_ratio * width)`` (at least 1)."""

    def add(self, name: str, channels: int) -> str:
        low = min(channels, max(1, math.ceil(channels * self.min_ratio - 1e-9)))
        self.slots.append(Slot(name, channels, low, 1))
        return name


def _resnet(stage_widths: list[int], blocks: list[int], *, imagenet_stem: bool, num_classes: int,
            in_channels: int, width_mult: float, image_size: int, min_ratio: float,
            wbits: int, abits: int, fine: bool = False, untied: bool = False) -> DynamicNet:
    check_common(num_classes, in_channels, image_size)
    fine = fine or untied
    f = LayerFactory(wbits, abits)
    book = FineSlotBook(min_ratio) if fine else SlotBook(min_ratio)
    widths = [scaled(w, width_mult) for w in stage_widths]
    stage_slots = [book.add("stem" if untied else f"stage{i + 1}", w)
                   for i, w in enumerate(widths) if not untied or i == 0]
    layers: list[nn.Module] = []
    if imagenet_stem:
        layers += [ConvBNAct(f, in_channels, widths[0], 7, stride=2, in_slot=None,
                             out_slot=stage_slots[0]), nn.MaxPool2d(3, 2, 1)]
    else:
        layers.append(ConvBNAct(f, in_channels, widths[0], 3, in_slot=None,
                                out_slot=stage_slots[0]))
    cin, in_slot = widths[0], stage_slots[0]
    for s, (w, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            stride = 2 if s > 0 and b == 0 else 1
            mid_slot = book.add(f"stage{s + 1}.block{b + 1}", w)
            out_slot = book.add(f"stage{s + 1}.block{b + 1}.out", w) if untied else stage_slots[s]
            layers.append(BasicBlock(f, cin, w, w, stride, in_slot=in_slot, mid_slot=mid_slot,
                                     out_slot=out_slot, project=untied))
            cin, in_slot = w, out_slot
    layers.append(Classifier(f, cin, num_classes, in_slot))
    return DynamicNet(nn.Sequential(*layers), book.slots,
                      input_size=(in_channels, image_size, image_size))


@register_model
def resnet20(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
             image_size: int = 32, min_ratio: float = 0.25, wbits: int = 32,
             abits: int = 32) -> DynamicNet:
    """CIFAR-style ResNet-20 (He et al. 2016): 3 stages x 3 blocks, 16/32/64 channels."""
    return _resnet([16, 32, 64], [3, 3, 3], imagenet_stem=False, num_classes=num_classes,
                   in_channels=in_channels, width_mult=width_mult, image_size=image_size,
                   min_ratio=min_ratio, wbits=wbits, abits=abits)


@register_model
def resnet56(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
             image_size: int = 32, min_ratio: float = 0.25, wbits: int = 32,
             abits: int = 32) -> DynamicNet:
    """CIFAR-style ResNet-56: 3 stages x 9 blocks, 16/32/64 channels."""
    return _resnet([16, 32, 64], [9, 9, 9], imagenet_stem=False, num_classes=num_classes,
                   in_channels=in_channels, width_mult=width_mult, image_size=image_size,
                   min_ratio=min_ratio, wbits=wbits, abits=abits)


@register_model
def resnet18(*, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
             image_size: int = 224, min_ratio: float = 0.25, wbits: int = 32,
             abits: int = 32) -> DynamicNet:
    """ImageNet-style ResNet-18: 7x7 stem + max-pool, 4 stages x 2 blocks, 64..512 channels."""
    return _resnet([64, 128, 256, 512], [2, 2, 2, 2], imagenet_stem=True,
                   num_classes=num_classes, in_channels=in_channels, width_mult=width_mult,
                   image_size=image_size, min_ratio=min_ratio, wbits=wbits, abits=abits)


@register_model
def resnet20_fine(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
                  image_size: int = 32, min_ratio: float = 1 / 64, wbits: int = 32,
                  abits: int = 32) -> DynamicNet:
    """ResNet-20 with step-1 slots down to 1 channel (the authors' ResNet-20 granularity); the
    same weights as ``resnet20``, residual widths still tied per stage (12 slots)."""
    return _resnet([16, 32, 64], [3, 3, 3], imagenet_stem=False, num_classes=num_classes,
                   in_channels=in_channels, width_mult=width_mult, image_size=image_size,
                   min_ratio=min_ratio, wbits=wbits, abits=abits, fine=True)


@register_model
def resnet20_untied(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
                    image_size: int = 32, min_ratio: float = 1 / 64, wbits: int = 32,
                    abits: int = 32) -> DynamicNet:
    """ResNet-20 with untied per-block output widths (a 1x1 projection shortcut on every block)
    and step-1 slots down to 1 channel: 19 slots, one per 3x3 conv."""
    return _resnet([16, 32, 64], [3, 3, 3], imagenet_stem=False, num_classes=num_classes,
                   in_channels=in_channels, width_mult=width_mult, image_size=image_size,
                   min_ratio=min_ratio, wbits=wbits, abits=abits, untied=True)
