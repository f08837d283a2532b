"""The small dynamic network the nn tests share: two slots (``a``: 16 channels through a
depthwise layer, ``b``: 32), BN after every conv, 8x8 single-channel input, 10 classes."""

from torch import nn

from dynpim.nn import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear, DynamicNet, Slot


def tiny() -> DynamicNet:
    body = nn.Sequential(
        DynamicConv2d(1, 16, 3, padding=1, out_slot="a"), DynamicBatchNorm2d(16, slot="a"),
        nn.ReLU(),
        DynamicConv2d(16, 16, 3, padding=1, depthwise=True, in_slot="a", out_slot="a"),
        DynamicBatchNorm2d(16, slot="a"), nn.ReLU(),
        DynamicConv2d(16, 32, 1, in_slot="a", out_slot="b"), DynamicBatchNorm2d(32, slot="b"),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), DynamicLinear(32, 10, in_slot="b"),
    )
    return DynamicNet(body, [Slot.make("a", 16), Slot.make("b", 32)], input_size=(1, 8, 8))
