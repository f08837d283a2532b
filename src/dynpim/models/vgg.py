"""Dynamic VGG-11 with BN, CIFAR variant: every conv has its own slot."""

from __future__ import annotations

from torch import nn

from dynpim.nn import DynamicNet

from .common import Classifier, ConvBNAct, LayerFactory, SlotBook, check_common, scaled
from .registry import register_model

# Channels per conv; "M" = 2x2 max-pool. The fifth pool is replaced by the global average pool
# of the classifier, so 28x28 inputs work as well as 32x32.
VGG11: list[int | str] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512]


@register_model
def vgg11_bn(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
             image_size: int = 32, min_ratio: float = 0.25, wbits: int = 32,
             abits: int = 32) -> DynamicNet:
    """VGG-11 with BN (Simonyan & Zisserman 2015), CIFAR variant with a single linear head."""
    check_common(num_classes, in_channels, image_size)
    f, book = LayerFactory(wbits, abits), SlotBook(min_ratio)
    layers: list[nn.Module] = []
    cin, in_slot = in_channels, None
    for i, v in enumerate(c for c in VGG11):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        w = scaled(int(v), width_mult)
        slot = book.add(f"conv{sum(1 for c in VGG11[:i] if c != 'M') + 1}", w)
        layers.append(ConvBNAct(f, cin, w, 3, in_slot=in_slot, out_slot=slot))
        cin, in_slot = w, slot
    layers.append(Classifier(f, cin, num_classes, in_slot))
    return DynamicNet(nn.Sequential(*layers), book.slots,
                      input_size=(in_channels, image_size, image_size))
