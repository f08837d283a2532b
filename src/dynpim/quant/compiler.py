"""The integer compiler: a quantized sub-net to the integer IR (:mod:`dynpim.quant.ir`), and the
reference *integer path*.

``quantized_subnet(model, cfg)`` compiles the active sub-net of a fake-quantized model (built with
``wbits``/``abits`` in 1..8) into a :class:`QuantizedSubnet`: a straight-line program of integer
ops over numbered registers. ``integer_forward`` runs it with exact integer convolutions;
``dynpim.pim.execute`` runs the *same* program with every conv/linear computed by the bit-wise
engine, so the two agree bit for bit (without sensing errors).

Format (docs/quantization.md has the derivation):

* :class:`QuantizeInput` -- ``q = clamp(round(x / scale) + zero_point, 0, 2**bits - 1)``.
* :class:`Conv` / :class:`Linear` -- ``acc = sum w * (q - zero_point)`` with signed ``wbits``
  integer weights (two's complement range) and unsigned ``abits`` activation codes ``q``;
  the real value of channel ``c`` is ``acc * in_scale * weight_scale[c]``. Below the stored
  precision the weights are the odd mid-rise codes ``2t + 1`` of
  :func:`dynpim.quant.truncate_codes` and ``wbits`` is the active precision plus one (their
  constant all-ones plane).
* BN is *folded into the requantization* (not into the weights, so the integer weights are
  exactly the trained ones): it scales the per-channel multiplier by ``gamma / sqrt(var + eps)``
  and moves ``beta - mean * gamma / sqrt(var + eps)`` (plus any layer bias) into the bias.
* :class:`Requant` -- fixed point: ``q = clamp((sum_t acc_t * m_t + bias + 2**(shift-1)) >>
  shift, 0, qmax)`` with int64 per-channel multipliers ``m_t < 2**30`` and shifts; the sum over
  ``t`` is the residual addition (both branches rescaled to the output grid in one step); the
  lower clamp is the ReLU. Rounding is half-up (half-to-even in the fake-quant model: they can
  differ by one LSB only where a value lies within float32 error of a rounding boundary).
* :class:`MaxPool`, :class:`SumPool` (global average pool = sum, its ``1/(H*W)`` goes into the
  next requantization), :class:`Flatten` -- exact integer ops.
* :class:`Dequantize` -- logits ``= sum_t acc_t * multiplier_t + bias`` in float64.

Supported module structure: ``nn.Sequential`` containers; quantized dynamic conv/linear with
their input quantizers; ``DynamicBatchNorm2d`` (calibrated for ``cfg``); ``ActQuant``;
``nn.MaxPool2d``; ``nn.AdaptiveAvgPool2d(1)``; ``nn.Flatten``; ``nn.Identity``; and
:class:`~dynpim.nn.Residual` joins ``act(main(x) + shortcut(x))`` (the zoo's ``BasicBlock``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor, nn

from dynpim.nn.dynamic_net import DynamicNet
from dynpim.nn.layers import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear
from dynpim.nn.precision import bank_key, precision_suffix
from dynpim.nn.residual import Residual
from dynpim.nn.slots import SubnetConfig

from .ir import (
    Conv,
    Dequantize,
    Flatten,
    Linear,
    MaxPool,
    Op,
    QuantizedSubnet,
    QuantizeInput,
    Requant,
    SumPool,
    int_conv2d,
    int_linear,
    run_program,
)
from .quantizers import (
    FLOAT_BITS,
    ActQuant,
    InputQuant,
    QuantDynamicConv2d,
    QuantDynamicLinear,
    sensed_weight_bits,
    weight_codes_at,
)

__all__ = ["fold_bn", "integer_forward", "quantized_subnet"]

MULTIPLIER_BITS = 30  # requantization multipliers are < 2**30
_MAX_SHIFT = 62


# -- compilation -------------------------------------------------------------------------------
@dataclass
class _Float:  # the network input
    shape: tuple[int, ...]


@dataclass
class _Q:  # integer codes on a grid: real = (q - zp) * scale
    reg: int
    scale: float
    zp: int
    bits: int | None  # None: wide (a pooled sum), must be requantized before a conv
    shape: tuple[int, ...]

    @property
    def code_bits(self) -> int:
        """``bits`` of codes on a grid (``_Compiler.grid`` checks that they are set)."""
        if self.bits is None:
            raise ValueError("a wide sum must be requantized before it is read as codes")
        return self.bits


@dataclass
class _A:  # pending affine value: real = sum_t acc_t * mult_t + bias, per channel
    terms: list[tuple[int, Tensor]]
    bias: Tensor
    shape: tuple[int, ...]


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


_OpT = TypeVar("_OpT", bound=Op)


class _Compiler:
    def __init__(self, model: DynamicNet, cfg: SubnetConfig) -> None:
        self.model, self.cfg, self.n = model, cfg, 0
        self.ops: list[Op] = []
        self.layers: dict[str, Conv | Linear] = {}
        self.names = {m: n for n, m in model.body.named_modules()}

    def reg(self) -> int:
        self.n += 1
        return self.n

    def emit(self, op: _OpT) -> _OpT:
        self.ops.append(op)
        return op

    def width(self, m) -> int:
        idx = m.out_slot_idx
        return self.cfg.widths[idx] if idx is not None else m.out_channels

    # values -----------------------------------------------------------------------------------
    def as_acc(self, v) -> _A:
        if isinstance(v, _A):
            return v
        if isinstance(v, _Q):
            s = torch.tensor([v.scale], dtype=torch.float64)
            return _A([(v.reg, s)], -v.zp * s, v.shape)
        raise ValueError("the float network input must be quantized before arithmetic")

    def requant(self, v, scale: float, bits: int) -> _Q:
        a = self.as_acc(v)
        mults = [t[1] / scale for t in a.terms]
        bias = a.bias / scale
        big = torch.stack(torch.broadcast_tensors(*[m.abs() for m in mults])).amax(0)
        exp = torch.where(big > 0, torch.ceil(torch.log2(big.clamp_min(1e-300))),
                          torch.full_like(big, -_MAX_SHIFT))
        shift = (MULTIPLIER_BITS - exp).clamp(1, _MAX_SHIFT).to(torch.int64)
        p = torch.pow(2.0, shift.double())
        m_int = tuple(torch.round(m * p).to(torch.int64) for m in mults)
        lim = float(2**61)
        b_int = torch.round((bias * p).clamp(-lim, lim)).to(torch.int64)
        out = self.reg()
        self.emit(Requant(tuple(t[0] for t in a.terms), out, m_int, b_int, shift,
                          (1 << bits) - 1, scale, bits))
        return _Q(out, scale, 0, bits, a.shape)

    def grid(self, v, what: str) -> _Q:
        if not isinstance(v, _Q) or v.bits is None:
            raise ValueError(f"{what} needs quantized input codes; put an activation quantizer "
                             "before it")
        return v

    # modules ----------------------------------------------------------------------------------
    def visit(self, m: nn.Module, v):
        if isinstance(m, QuantDynamicConv2d):
            return self.conv(m, self.in_quant(m, v))
        if isinstance(m, QuantDynamicLinear):
            return self.linear(m, self.in_quant(m, v))
        if isinstance(m, (DynamicConv2d, DynamicLinear)):
            raise ValueError(f"layer {self.names.get(m)!r} is not quantized: build the model "
                             "with wbits and abits in 1..8")
        if isinstance(m, DynamicBatchNorm2d):
            return self.bn(m, v)
        if isinstance(m, (ActQuant, InputQuant)):
            return self.quantizer(m, v)
        if isinstance(m, nn.Sequential):
            for child in m:
                v = self.visit(child, v)
            return v
        if isinstance(m, nn.Identity):
            return v
        if isinstance(m, nn.MaxPool2d):
            q = self.grid(v, "max-pool")
            k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
            if m.dilation not in (1, (1, 1)) or m.ceil_mode:
                raise ValueError("max-pool with dilation or ceil_mode is not supported")
            c, h, w = q.shape
            out = self.reg()
            self.emit(MaxPool(q.reg, out, k, s, p))
            shape = (c, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
            return _Q(out, q.scale, q.zp, q.bits, shape)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            if _pair(m.output_size) != (1, 1):
                raise ValueError("only global average pooling (output size 1) is supported")
            q = self.grid(v, "average pool")
            if q.zp != 0:
                raise ValueError("average pooling needs zero-point 0 codes")
            c, h, w = q.shape
            out = self.reg()
            self.emit(SumPool(q.reg, out))
            return _Q(out, q.scale / (h * w), 0, None, (c, 1, 1))
        if isinstance(m, nn.Flatten):
            if not isinstance(v, _Q) or (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError("flatten is supported on codes only, with start_dim=1")
            out = self.reg()
            self.emit(Flatten(v.reg, out))
            return _Q(out, v.scale, v.zp, v.bits, (math.prod(v.shape),))
        if isinstance(m, Residual):
            return self.residual(m, v)
        raise ValueError(f"integer execution does not support module {type(m).__name__} "
                         f"({self.names.get(m)!r})")

    def residual(self, m: Residual, v):
        """``act(main(x) + shortcut(x))``: both branches' accumulators summed, so the
        addition happens in the next requantization (one ``Requant`` with both sources)."""
        main = v
        for child in m.main_modules():
            main = self.visit(child, main)
        a, b = self.as_acc(main), self.as_acc(self.visit(m.shortcut, v))
        if a.shape != b.shape:
            raise ValueError(f"residual shapes differ: {a.shape} vs {b.shape}")
        return self.visit(m.act, _A(a.terms + b.terms, a.bias + b.bias, a.shape))

    def quantizer(self, m: ActQuant | InputQuant, v):
        if isinstance(m, InputQuant):
            if not isinstance(v, _Float):
                raise ValueError("InputQuant must read the network input")
            scale, zp = m.qparams()
            out = self.reg()
            self.emit(QuantizeInput(out, scale.detach().cpu().clone(), zp, m.bits))
            return _Q(out, float(scale), zp, m.bits, v.shape)
        return self.requant(v, float(m.scale()), m.active_bits)

    def in_quant(self, m, v):
        return v if m.in_quant is None else self.quantizer(m.in_quant, v)

    def weights(self, m, cin: int, cout: int) -> tuple[Tensor, Tensor]:
        if m.wbits == FLOAT_BITS:
            raise ValueError(f"layer {self.names.get(m)!r} has float weights: integer export "
                             "needs wbits in 1..8")
        with torch.no_grad():
            codes, scale = weight_codes_at(m.weight.detach().cpu(), m.wbits, m.active_wbits)
        if isinstance(m, QuantDynamicConv2d) and m.depthwise:
            return codes[:cin].to(torch.int64), scale[:cin]
        return codes[:cout, :cin].to(torch.int64), scale[:cout]

    @staticmethod
    def sensed(m) -> int:
        """Two's-complement width of the layer's run-time weight codes: the active bits, plus
        the all-ones plane of mid-rise truncation below the stored bits."""
        return sensed_weight_bits(m.wbits, m.active_wbits)

    def acc_out(self, m, q: _Q, out: int, wscale: Tensor, cout: int, shape) -> _A:
        mult = q.scale * wscale.double()
        bias = torch.zeros(cout, dtype=torch.float64)
        if m.bias is not None:
            bias = bias + m.bias.detach()[:cout].cpu().double()
        return _A([(out, mult)], bias, shape)

    def conv(self, m: QuantDynamicConv2d, v) -> _A:
        q = self.grid(v, f"conv {self.names.get(m)!r}")
        cin, h, w = q.shape
        cout = cin if m.depthwise else self.width(m)
        wint, wscale = self.weights(m, cin, cout)
        (kh, kw), (sh, sw), (ph, pw) = m.kernel_size, m.stride, m.padding
        out = self.reg()
        op = Conv(self.names[m], q.reg, out, wint, wscale.detach().clone(), q.scale, q.zp,
                  (sh, sw), (ph, pw), cin if m.depthwise else 1, q.code_bits, self.sensed(m),
                  wint.flatten(1).sum(1))
        self.layers[op.name] = self.emit(op)
        shape = (cout, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
        return self.acc_out(m, q, out, wscale, cout, shape)

    def linear(self, m: QuantDynamicLinear, v) -> _A:
        q = self.grid(v, f"linear {self.names.get(m)!r}")
        if len(q.shape) != 1:
            raise ValueError(f"linear {self.names.get(m)!r} needs a flat input, got {q.shape}")
        cin, cout = q.shape[0], self.width_linear(m)
        wint, wscale = self.weights(m, cin, cout)
        out = self.reg()
        op = Linear(self.names[m], q.reg, out, wint, wscale.detach().clone(), q.scale, q.zp,
                    q.code_bits, self.sensed(m), wint.sum(1))
        self.layers[op.name] = self.emit(op)
        return self.acc_out(m, q, out, wscale, cout, (cout,))

    def width_linear(self, m: QuantDynamicLinear) -> int:
        idx = m.out_slot_idx
        return self.cfg.widths[idx] if idx is not None else m.out_features

    def bn(self, m: DynamicBatchNorm2d, v) -> _A:
        a = self.as_acc(v)
        c = a.shape[0]
        key = bank_key(self.cfg.key, self.model._state.bits)
        if key not in m.bank:
            raise RuntimeError(f"BN statistics for sub-net config [{key}] are not "
                               "calibrated; call dynpim.nn.calibrate_bn(model, cfg, batches)")
        mean, var = (t.detach().cpu().double() for t in m.bank[key])
        bits = self.model._state.bits  # the precision's own scale and shift, if it has them
        gamma, beta_c = m.affine(None if bits is None else precision_suffix(bits), c)
        k = gamma.detach().cpu().double() / torch.sqrt(var + m.eps)
        beta = beta_c.detach().cpu().double()
        return _A([(r, t * k) for r, t in a.terms], a.bias * k + beta - mean * k, a.shape)


def quantized_subnet(model: DynamicNet, cfg: SubnetConfig | Sequence[int] | None = None,
                     input_size: Sequence[int] | None = None) -> QuantizedSubnet:
    """Compile sub-net ``cfg`` (default: active) of a quantized model into integer ops (all
    tensors of the program on the CPU; ``run_program`` moves them to the input's device)."""
    cfg = model.validate(cfg) if cfg is not None else model.current_config
    shape = tuple(input_size or model.input_size)
    comp = _Compiler(model, cfg)
    v = comp.visit(model.body, _Float(shape))
    if isinstance(v, _Float):
        raise ValueError("model has no quantized layers")
    a = comp.as_acc(v)
    out = comp.reg()
    comp.emit(Dequantize(tuple(t[0] for t in a.terms), out, tuple(t[1] for t in a.terms),
                         a.bias))
    return QuantizedSubnet(cfg, shape, tuple(comp.ops), out, comp.layers)


def integer_forward(model: DynamicNet, cfg: SubnetConfig | Sequence[int] | None, x: Tensor,
                    *, qs: QuantizedSubnet | None = None, batch_size: int = 1000) -> Tensor:
    """Reference integer path of sub-net ``cfg``: float64 logits (B, classes), computed in
    chunks of ``batch_size`` images on ``x``'s device."""
    with torch.no_grad():
        qs = qs or quantized_subnet(model, cfg, input_size=tuple(x.shape[1:]))
        outs = [run_program(qs, xb, int_conv2d, int_linear) for xb in x.split(batch_size)]
    if not outs:
        raise ValueError("integer_forward needs at least one input")
    return torch.cat(outs)


def fold_bn(weight: Tensor, bias: Tensor | None, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Fold an eval-mode ``BatchNorm2d`` into the preceding conv/linear: returns ``(w', b')``
    with ``conv(x, w') + b' == bn(conv(x, w) + b)`` (float: the classic folding for a float
    deployment; the integer path folds BN into the requantization instead, and
    ``export_subnet`` keeps BN layers)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fold_bn needs a BatchNorm2d that tracks running statistics")
    k = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    b = bias.detach() if bias is not None else torch.zeros_like(k)
    w = weight.detach() * k.view(-1, *([1] * (weight.dim() - 1)))
    return w, (b - bn.running_mean) * k + bn.bias.detach()
