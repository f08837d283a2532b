"""Dynamic MobileNetV1 (Howard et al. 2017), CIFAR and ImageNet variants.

Each depthwise conv shares the slot of its input; each pointwise conv opens a new slot.
"""

from __future__ import annotations

from torch import nn

from dynpim.nn import DynamicNet

from .common import Classifier, ConvBNAct, LayerFactory, SlotBook, check_common, scaled
from .registry import register_model

# (pointwise output channels, depthwise stride) of the 13 depthwise-separable blocks.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def _mobilenet(stem_stride: int, *, num_classes: int, in_channels: int, width_mult: float,
               image_size: int, min_ratio: float, wbits: int, abits: int) -> DynamicNet:
    check_common(num_classes, in_channels, image_size)
    f, book = LayerFactory(wbits, abits), SlotBook(min_ratio)
    w0 = scaled(32, width_mult)
    slot = book.add("stem", w0)
    layers: list[nn.Module] = [ConvBNAct(f, in_channels, w0, 3, stride=stem_stride,
                                         in_slot=None, out_slot=slot)]
    cin = w0
    for i, (c, stride) in enumerate(BLOCKS):
        w = scaled(c, width_mult)
        new_slot = book.add(f"pw{i + 1}", w)
        layers.append(nn.Sequential(
            ConvBNAct(f, cin, cin, 3, stride=stride, in_slot=slot, out_slot=slot,
                      depthwise=True),
            ConvBNAct(f, cin, w, 1, in_slot=slot, out_slot=new_slot),
        ))
        cin, slot = w, new_slot
    layers.append(Classifier(f, cin, num_classes, slot))
    return DynamicNet(nn.Sequential(*layers), book.slots,
                      input_size=(in_channels, image_size, image_size))


@register_model
def mobilenet_v1(*, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
                 image_size: int = 32, min_ratio: float = 0.25, wbits: int = 32,
                 abits: int = 32) -> DynamicNet:
    """MobileNetV1 for 32x32 inputs (stride-1 stem)."""
    return _mobilenet(1, num_classes=num_classes, in_channels=in_channels,
                      width_mult=width_mult, image_size=image_size, min_ratio=min_ratio,
                      wbits=wbits, abits=abits)


@register_model
def mobilenet_v1_imagenet(*, num_classes: int = 1000, in_channels: int = 3,
                          width_mult: float = 1.0, image_size: int = 224,
                          min_ratio: float = 0.25, wbits: int = 32,
                          abits: int = 32) -> DynamicNet:
    """MobileNetV1 for 224x224 inputs (stride-2 stem)."""
    return _mobilenet(2, num_classes=num_classes, in_channels=in_channels,
                      width_mult=width_mult, image_size=image_size, min_ratio=min_ratio,
                      wbits=wbits, abits=abits)
