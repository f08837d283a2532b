"""ONNX export of a sub-net: the plain ``torch.nn`` sub-net (``DynamicNet.export_subnet``) through
the TorchScript exporter (``dynamo=False``: no ``onnxscript`` needed), with metadata
(preprocessing, model, config) in the model's ``metadata_props``.

Quantized sub-nets export as a standard QDQ graph: every fake quantizer becomes a
``QuantizeLinear``/``DequantizeLinear`` pair (weights per output channel, int8 codes;
activations per tensor, uint8 codes with a ``Clip`` at the k-bit code maximum when k < 8; the
network input affine with its zero-point), so ONNX Runtime and other QDQ consumers see the
quantization itself, not a float imitation of it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .quant import FLOAT_BITS, ActQuant, InputQuant, weight_codes

OPSET = 17


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


def _set(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def qdq_subnet(model: Any, cfg: Any = None) -> nn.Module:
    """The sub-net ``cfg`` of a quantized ``DynamicNet`` with every fake quantizer as a QDQ
    module (same function; exports to QuantizeLinear/DequantizeLinear)."""
    cfg = model.validate(cfg) if cfg is not None else model.current_config
    static = model.export_subnet(cfg)
    for n, m in model.dynamic_layers():
        bits = getattr(m, "wbits", FLOAT_BITS)
        if bits == FLOAT_BITS:
            continue
        target = static.get_submodule(n)
        inner = f"{n}.1" if isinstance(target, nn.Sequential) else n
        layer = static.get_submodule(inner)
        scale = weight_codes(m.weight.detach(), bits)[1][:layer.weight.shape[0]]
        _set(static, inner, QDQWeight(layer, scale))
    for n, m in list(static.named_modules()):
        if isinstance(m, InputQuant):
            _set(static, n, QDQInput(m))
        elif isinstance(m, ActQuant):
            _set(static, n, QDQAct(m))
    return static.eval()


def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(m, (ActQuant, InputQuant)) or getattr(m, "wbits", FLOAT_BITS) < 32
               for m in model.modules())


def export_onnx(model: Any, path: str, cfg: Any = None, *,
                metadata: dict[str, Any] | None = None,
                input_size: Sequence[int] | None = None, opset: int = OPSET) -> str:
    """Write sub-net ``cfg`` (default: active) of ``model`` as ONNX at ``path`` (batch axis
    dynamic; input ``input``, output ``logits``). Quantized models export as a QDQ graph.
    ``metadata`` (values JSON-encoded unless strings) goes into ``metadata_props``, with the
    model's ``preprocessing``, name, arguments and the config. Needs the ``onnx`` package."""
    try:
        import onnx
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx package: pip install onnx") from None
    cfg = model.validate(cfg) if cfg is not None else model.current_config
    quantized = is_quantized(model)
    net = qdq_subnet(model, cfg) if quantized else model.export_subnet(cfg)
    net = copy.deepcopy(net).cpu().float().eval()
    size = tuple(input_size or model.input_size)
    dummy = torch.zeros(1, *size)
    with torch.no_grad():
        torch.onnx.export(net, (dummy,), path, dynamo=False, opset_version=opset,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    props = {"model_name": model.name, "model_args": model.args, "config": list(cfg.widths),
             "input_size": list(size), "quantized": quantized,
             "preprocessing": getattr(model, "preprocessing", None), **(metadata or {})}
    proto = onnx.load(path)
    onnx.helper.set_model_props(
        proto, {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()})
    onnx.save(proto, path)
    return path
