"""The standard ONNX forms of dynpim's fake quantizers: ``QuantizeLinear``/``DequantizeLinear``
(QDQ) pairs that compute what the quantizers compute. Weights per output channel, int8 codes;
activations per tensor, uint8 codes with a ``Clip`` at the k-bit code maximum when k < 8; the
network input affine with its zero-point. Each quantizer builds its own (``to_qdq``,
``qdq_weight`` in :mod:`dynpim.quant.quantizers`); :func:`dynpim.nn.onnx.qdq_subnet` swaps
them into a static sub-net, so ONNX Runtime and other QDQ consumers see the quantization itself,
not a float imitation of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from .quantizers import ActQuant, InputQuant


class QDQInput(nn.Module):
    """Affine quantize-dequantize of the network input (``InputQuant`` as QDQ)."""

    scale: Tensor  # buffers: float32 scalar, int32 scalar
    zero_point: Tensor

    def __init__(self, q: InputQuant) -> None:
        super().__init__()
        scale, zp = q.qparams()
        self.register_buffer("scale", scale.detach().float().reshape(()))
        self.register_buffer("zero_point", torch.tensor(zp, dtype=torch.int32))
        self.qmax = q.qmax
        # the largest value, computed in float32 as the fake quantizer computes it
        self.clip_max = float(torch.tensor(float(q.qmax - zp)) * self.scale)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, 0, 255)
        if self.qmax < 255:  # codes above the k-bit maximum do not exist
            y = torch.clamp(y, max=self.clip_max)
        return y


class QDQAct(nn.Module):
    """ReLU + unsigned k-bit quantize-dequantize (``ActQuant`` as QDQ: uint8 codes with zero
    point 0 clip negatives to 0; a ``Clip`` caps the codes at ``2**k - 1``)."""

    scale: Tensor  # buffers: float32 scalar, int32 scalar (0)
    zero_point: Tensor

    def __init__(self, q: ActQuant) -> None:
        super().__init__()
        self.register_buffer("scale", q.scale().detach().float().reshape(()))
        self.register_buffer("zero_point", torch.tensor(0, dtype=torch.int32))
        self.qmax = q.qmax
        self.clip_max = float(torch.tensor(float(q.qmax)) * self.scale)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, 0, 255)
        if self.qmax < 255:
            y = torch.clamp(y, max=self.clip_max)
        return y


class QDQWeight(nn.Module):
    """Conv2d/Linear whose weight is int8 codes x per-output-channel scales (QDQ).

    ``layer`` holds the fake-quant weight of the sub-net, ``scale`` the scales of its output
    channels (taken over the full fan-in of the dynamic layer, so every sub-net shares them)."""

    weight: Tensor  # buffers: fake-quant weight, per-channel scales and zero points (0)
    scale: Tensor
    zero_point: Tensor
    stride: tuple[int, ...]  # convolutions only
    padding: tuple[int, ...]
    groups: int

    def __init__(self, layer: nn.Conv2d | nn.Linear, scale: Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", layer.weight.detach().clone())
        self.register_buffer("scale", scale.detach().float().clone())
        self.register_buffer("zero_point", torch.zeros(len(scale), dtype=torch.int32))
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone())
        self.conv = isinstance(layer, nn.Conv2d)
        if isinstance(layer, nn.Conv2d):
            # static sub-nets' convs get numeric padding (DynamicConv2d.static_conv), never 'same'
            self.stride, self.padding = layer.stride, cast(tuple[int, ...], layer.padding)
            self.groups = layer.groups

    def forward(self, x: Tensor) -> Tensor:
        w = torch.fake_quantize_per_channel_affine(self.weight, self.scale, self.zero_point, 0,
                                                   -128, 127)
        if self.conv:
            return F.conv2d(x, w, self.bias, self.stride, self.padding, 1, self.groups)
        return F.linear(x, w, self.bias)
