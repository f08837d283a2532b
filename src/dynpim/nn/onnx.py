"""ONNX export of a sub-net: the plain ``torch.nn`` sub-net (``DynamicNet.export_subnet``) through
the TorchScript exporter (``dynamo=False``: no ``onnxscript`` needed), with metadata
(preprocessing, model, config) in the model's ``metadata_props``.

Quantized sub-nets export as a standard QDQ graph: every fake quantizer becomes a
``QuantizeLinear``/``DequantizeLinear`` pair (:mod:`dynpim.quant.qdq`), so ONNX Runtime and
other QDQ consumers see the quantization itself, not a float imitation of it. The quantizers
live above this package (``dynpim.quant`` imports ``dynpim.nn``, never the reverse): they are
recognised here by what they offer, :class:`QDQQuantizer` and :class:`QDQWeighted`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

OPSET = 17


@runtime_checkable
class QDQQuantizer(Protocol):
    """A fake quantizer with a QDQ form (``dynpim.quant``'s ``ActQuant``, ``InputQuant``)."""

    def to_qdq(self) -> nn.Module: ...


@runtime_checkable
class QDQWeighted(Protocol):
    """A dynamic layer with quantized weights (``dynpim.quant``'s ``QuantDynamicConv2d``,
    ``QuantDynamicLinear``): its static form with QDQ weights, ``None`` if they are float."""

    wbits: int

    def qdq_weight(self, layer: nn.Conv2d | nn.Linear) -> nn.Module | None: ...


def _set(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def qdq_subnet(model: Any, cfg: Any = None) -> nn.Module:
    """The sub-net ``cfg`` of a quantized ``DynamicNet`` with every fake quantizer as a QDQ
    module (same function; exports to QuantizeLinear/DequantizeLinear)."""
    cfg = model.validate(cfg) if cfg is not None else model.current_config
    static = model.export_subnet(cfg)
    for n, m in model.dynamic_layers():
        if not isinstance(m, QDQWeighted):
            continue
        target = static.get_submodule(n)
        inner = f"{n}.1" if isinstance(target, nn.Sequential) else n  # (input quantizer, layer)
        new = m.qdq_weight(static.get_submodule(inner))
        if new is not None:
            _set(static, inner, new)
    for n, m in list(static.named_modules()):
        if isinstance(m, QDQQuantizer):
            _set(static, n, m.to_qdq())
    return static.eval()


def is_quantized(model: nn.Module) -> bool:
    """Whether ``model`` holds a fake quantizer or quantized weights (exports as QDQ)."""
    return any(isinstance(m, QDQQuantizer) or (isinstance(m, QDQWeighted) and m.wbits < 32)
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
