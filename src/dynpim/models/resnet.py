"""Dynamic ResNets: CIFAR-style ResNet-20/56 and ImageNet-style ResNet-18.

Slots: one per stage for the residual-tied width (stem/stage outputs and every block output of
the stage share it), and one per block for its inner width, so non-uniform configs can narrow
every block independently.
"""

from __future__ import annotations

from torch import Tensor, nn

from dynpim.nn import DynamicNet

from .common import Classifier, ConvBNAct, LayerFactory, SlotBook, check_common, scaled
from .registry import register_model


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (1x1 conv + BN projection when the shape
    changes)."""

    def __init__(self, f: LayerFactory, cin: int, mid: int, cout: int, stride: int, *,
                 in_slot: str, mid_slot: str, out_slot: str) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(f, cin, mid, 3, stride=stride, in_slot=in_slot, out_slot=mid_slot)
        self.conv2 = f.conv(mid, cout, 3, in_slot=mid_slot, out_slot=out_slot)
        self.bn2 = f.bn(cout, out_slot)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout or in_slot != out_slot:
            self.shortcut = nn.Sequential(
                f.conv(cin, cout, 1, stride=stride, in_slot=in_slot, out_slot=out_slot),
                f.bn(cout, out_slot),
            )
        self.act = f.act()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


def _resnet(stage_widths: list[int], blocks: list[int], *, imagenet_stem: bool, num_classes: int,
            in_channels: int, width_mult: float, image_size: int, min_ratio: float,
            wbits: int, abits: int) -> DynamicNet:
    check_common(num_classes, in_channels, image_size)
    f, book = LayerFactory(wbits, abits), SlotBook(min_ratio)
    widths = [scaled(w, width_mult) for w in stage_widths]
    stage_slots = [book.add(f"stage{i + 1}", w) for i, w in enumerate(widths)]
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
            layers.append(BasicBlock(f, cin, w, w, stride, in_slot=in_slot, mid_slot=mid_slot,
                                     out_slot=stage_slots[s]))
            cin, in_slot = w, stage_slots[s]
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
