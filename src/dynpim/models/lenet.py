"""A small LeNet-style CNN for 8x8 digits and 28x28 Fashion-MNIST: fast enough for smoke runs."""

from __future__ import annotations

from torch import nn

from dynpim.nn import DynamicNet

from .common import ConvBNAct, LayerFactory, SlotBook, check_common, scaled
from .registry import register_model


@register_model
def lenet(*, num_classes: int = 10, in_channels: int = 1, width_mult: float = 1.0,
          image_size: int = 28, min_ratio: float = 0.25, wbits: int = 32,
          abits: int = 32) -> DynamicNet:
    """Two conv-BN-ReLU-pool stages (32, 64 channels) and a 128-unit hidden linear layer."""
    check_common(num_classes, in_channels, image_size)
    f, book = LayerFactory(wbits, abits), SlotBook(min_ratio)
    c1, c2, h = scaled(32, width_mult), scaled(64, width_mult), scaled(128, width_mult)
    s1, s2, s3 = book.add("conv1", c1), book.add("conv2", c2), book.add("fc1", h)
    body = nn.Sequential(
        ConvBNAct(f, in_channels, c1, 5, in_slot=None, out_slot=s1), nn.MaxPool2d(2),
        ConvBNAct(f, c1, c2, 5, in_slot=s1, out_slot=s2), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        f.linear(c2, h, in_slot=s2, out_slot=s3), f.act(),
        f.linear(h, num_classes, in_slot=s3),
    )
    return DynamicNet(body, book.slots, input_size=(in_channels, image_size, image_size))
