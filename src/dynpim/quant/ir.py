"""The integer IR: the ops of an exported sub-net, the program that holds them
(:class:`QuantizedSubnet`) and its interpreter (the "instruction set" that
:func:`dynpim.quant.compiler.quantized_subnet` compiles to; formats documented there and in
docs/quantization.md).

``run_program`` executes a program; the conv/linear function is a parameter, so the reference
integer path (exact integer convolution) and the PIM execution (bit-plane engine) share every
other step bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from dynpim.nn.slots import SubnetConfig

from .quantizers import affine_codes


@dataclass(frozen=True)
class QuantizeInput:
    out: int
    scale: Tensor  # float32 scalar
    zero_point: int
    bits: int


@dataclass(frozen=True)
class Conv:
    name: str
    src: int
    out: int
    weight: Tensor  # int64 (M, C/groups, kh, kw), two's-complement range of wbits
    # (wbits: the planes sensed, active precision + 1 below the stored one: mid-rise codes)
    weight_scale: Tensor  # float32 (M,)
    in_scale: float
    zero_point: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int
    abits: int
    wbits: int
    weight_sum: Tensor  # int64 (M,): zero-point correction sum_k w


@dataclass(frozen=True)
class Linear:
    name: str
    src: int
    out: int
    weight: Tensor  # int64 (M, K)
    weight_scale: Tensor  # float32 (M,)
    in_scale: float
    zero_point: int
    abits: int
    wbits: int
    weight_sum: Tensor  # int64 (M,)


@dataclass(frozen=True)
class Requant:
    srcs: tuple[int, ...]
    out: int
    multipliers: tuple[Tensor, ...]  # int64 (C,) or (1,) per source
    bias: Tensor  # int64 (C,) or (1,)
    shift: Tensor  # int64 (C,) or (1,), >= 1
    qmax: int
    out_scale: float  # real value of one output LSB
    bits: int


@dataclass(frozen=True)
class MaxPool:
    src: int
    out: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class SumPool:
    src: int
    out: int


@dataclass(frozen=True)
class Flatten:
    src: int
    out: int


@dataclass(frozen=True)
class Dequantize:
    srcs: tuple[int, ...]
    out: int
    multipliers: tuple[Tensor, ...]  # float64 (C,) or (1,)
    bias: Tensor  # float64


Op = QuantizeInput | Conv | Linear | Requant | MaxPool | SumPool | Flatten | Dequantize


def _sources(op: Op) -> tuple[int, ...]:
    """The registers ``op`` reads (none for the input quantizer)."""
    if isinstance(op, (Requant, Dequantize)):
        return op.srcs
    if isinstance(op, QuantizeInput):
        return ()
    return (op.src,)


@dataclass(frozen=True)
class QuantizedSubnet:
    """Integer program of one sub-net: ``ops`` in execution order, logits in ``output``."""

    config: SubnetConfig
    input_shape: tuple[int, ...]
    ops: tuple[Op, ...]
    output: int
    layers: dict[str, Conv | Linear] = field(repr=False)


# -- execution ---------------------------------------------------------------------------------
ConvFn = Callable[..., Tensor]  # (q, w, abits, wbits, stride, padding, groups) -> int64 acc
LinearFn = Callable[..., Tensor]  # (q, w, abits, wbits) -> int64 acc


def int_conv2d(q: Tensor, w: Tensor, abits: int, wbits: int, stride, padding,
               groups: int) -> Tensor:
    """Exact integer convolution (float64 holds every partial sum exactly)."""
    y = F.conv2d(q.double(), w.to(q.device).double(), None, stride, padding, 1, groups)
    return torch.round(y).to(torch.int64)


def int_linear(q: Tensor, w: Tensor, abits: int, wbits: int) -> Tensor:
    """Exact integer matrix product ``q @ w.T``."""
    return torch.round(q.double() @ w.to(q.device).double().T).to(torch.int64)


def _chan(t: Tensor, ndim: int, device) -> Tensor:
    return t.to(device).view(1, -1, *([1] * (ndim - 2)))


def run_program(qs: QuantizedSubnet, x: Tensor, conv_fn: ConvFn = int_conv2d,
                linear_fn: LinearFn = int_linear,
                layer_kwargs: dict[str, dict] | None = None) -> Tensor:
    """Run the integer program on float input ``x`` (B, C, H, W); returns float64 logits.
    ``layer_kwargs`` maps a layer name to extra keyword arguments of its conv/linear call
    (e.g. the PIM placement of that layer)."""
    extra = layer_kwargs or {}
    if tuple(x.shape[1:]) != qs.input_shape:
        raise ValueError(f"input shape {tuple(x.shape[1:])} does not match the compiled "
                         f"sub-net input {qs.input_shape}")
    dev = x.device
    r: dict[int, Tensor] = {}
    last_use: dict[int, int] = {}
    for k, op in enumerate(qs.ops):
        for src in _sources(op):
            last_use[src] = k
    for k, op in enumerate(qs.ops):
        if isinstance(op, QuantizeInput):
            qmax = (1 << op.bits) - 1
            r[op.out] = affine_codes(x.float(), op.scale.to(dev), op.zero_point,
                                     qmax).to(torch.int64)
        elif isinstance(op, Conv):
            q, pad = r[op.src], op.padding
            if op.zero_point and any(pad):
                q = F.pad(q, (pad[1], pad[1], pad[0], pad[0]), value=op.zero_point)
                pad = (0, 0)
            acc = conv_fn(q, op.weight, op.abits, op.wbits, op.stride, pad, op.groups,
                          **extra.get(op.name, {}))
            acc = acc.to(dev)
            if op.zero_point:
                acc = acc - op.zero_point * _chan(op.weight_sum, 4, dev)
            r[op.out] = acc
        elif isinstance(op, Linear):
            acc = linear_fn(r[op.src], op.weight, op.abits, op.wbits,
                            **extra.get(op.name, {})).to(dev)
            if op.zero_point:
                acc = acc - op.zero_point * _chan(op.weight_sum, 2, dev)
            r[op.out] = acc
        elif isinstance(op, Requant):
            nd = r[op.srcs[0]].dim()
            total = _chan(op.bias, nd, dev)
            for src, m in zip(op.srcs, op.multipliers):
                total = total + r[src] * _chan(m, nd, dev)
            sh = _chan(op.shift, nd, dev)
            half = torch.bitwise_left_shift(torch.ones_like(sh), sh - 1)
            total = torch.bitwise_right_shift(total + half, sh)
            r[op.out] = total.clamp(0, op.qmax)
        elif isinstance(op, MaxPool):
            y = F.max_pool2d(r[op.src].double(), op.kernel, op.stride, op.padding)
            r[op.out] = y.to(torch.int64)
        elif isinstance(op, SumPool):
            r[op.out] = r[op.src].sum(dim=(2, 3), keepdim=True)
        elif isinstance(op, Flatten):
            r[op.out] = r[op.src].flatten(1)
        elif isinstance(op, Dequantize):
            nd = r[op.srcs[0]].dim()
            y = _chan(op.bias, nd, dev).double()
            for src, m in zip(op.srcs, op.multipliers):
                y = y + r[src].double() * _chan(m, nd, dev)
            r[op.out] = y
        else:  # pragma: no cover - closed set of ops
            raise TypeError(f"unknown op {type(op).__name__}")
        for src in [s for s, last in last_use.items() if last == k]:
            r.pop(src, None)  # free registers after their last reader
    return r[qs.output]
