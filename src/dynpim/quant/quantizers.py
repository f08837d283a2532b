"""Fake quantizers for quantization-aware training of dynamic networks.

* **Weights**: signed ``k``-bit, per output channel, symmetric, two's-complement code range
  ``[-2**(k-1), 2**(k-1) - 1]``. The scale of channel ``c`` is ``max|W[c]| / (2**(k-1) - 1)``
  taken over the channel's *full* (max-width) fan-in and sliced with the channels, so every
  sub-net uses the same integer weights: the accelerator stores one copy and a sub-net switch
  rewrites nothing. 1-bit weights have codes ``{-1, 0}`` (the sign plane only).
* **Activations** (:class:`ActQuant`): ReLU fused with unsigned ``k``-bit quantization with a
  learned clipping level ``alpha`` (PACT clip, LSQ-style scale gradient, initialised from the
  0.999-quantile of the first training batch). Codes ``[0, 2**k - 1]``, scale ``alpha/(2**k-1)``.
* **Network input** (:class:`InputQuant`): the normalised image is signed, the bit-wise engine
  takes unsigned activations, so the input is quantized *affinely* to ``input_bits`` (default 8)
  unsigned codes with an integer zero-point: ``x ~= (q - z) * s``. The range is the running
  min/max of the training inputs (widened to contain 0, so zero padding is exact).
* Rounding is ``torch.round`` (half to even); gradients use the straight-through estimator.

The integer-code functions (:func:`weight_codes`, :func:`affine_codes`, ``ActQuant.codes``) are
shared with the integer compiler (:mod:`dynpim.quant.compiler`), so the integer path sees
bit-identical codes. Each quantizer also knows its standard ONNX form (``to_qdq``,
:mod:`dynpim.quant.qdq`), which :func:`dynpim.nn.onnx.qdq_subnet` asks for.

Run-time precision (:mod:`dynpim.nn.precision` holds the ``(wbits, abits)`` knob): fewer weight
bits sense the top bit-planes of the stored codes, read at the centre of their bin (mid-rise,
:func:`truncate_codes`), fewer activation bits use a clip of their own (``ActQuant.add_bits``).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynpim.errors import MODEL_MAX_BITS
from dynpim.errors import check_bits as _check_bits
from dynpim.nn.layers import DynamicConv2d, DynamicLinear, SubnetState, static_linear

from .qdq import QDQAct, QDQInput, QDQWeight

VALID_BITS = (*range(1, 9), 32)
FLOAT_BITS = 32
_EPS = 1e-8


def check_bits(field: str, value: object) -> int:
    """Return ``value`` if it is a valid model bit-width (1..8, or 32 = float), else
    ``ValueError`` (the one rule of :func:`dynpim.errors.check_bits`)."""
    return _check_bits(field, value, max_bits=MODEL_MAX_BITS, float_bits=True)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: D102
        return torch.round(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # noqa: D102
        return g


def round_ste(x: Tensor) -> Tensor:
    """``torch.round`` forward, identity gradient (straight-through estimator)."""
    return _RoundSTE.apply(x) if x.requires_grad else torch.round(x)


def weight_qrange(bits: int) -> tuple[int, int]:
    """Two's-complement code range of ``bits``-bit weights."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def weight_codes(w: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """Integer codes (float tensor) and per-output-channel scales (dim 0) of weight ``w``.

    The scale is detached (min-max, not learned); ``codes * scale`` is the fake-quant weight.
    """
    qmin, qmax = weight_qrange(bits)
    scale = w.detach().abs().flatten(1).amax(1).clamp_min(_EPS) / max(qmax, 1)
    s = scale.view(-1, *([1] * (w.dim() - 1)))
    codes = torch.clamp(round_ste(w / s), qmin, qmax)
    return codes, scale


def sensed_weight_bits(stored_bits: int, active_bits: int) -> int:
    """Weight bit-planes a layer senses at ``active_bits``: the top ``active_bits`` planes of
    its stored codes, plus one all-ones plane (a plain read of the activation row, the
    mid-rise offset of :func:`truncate_codes`) when ``active_bits < stored_bits``."""
    if active_bits > stored_bits:
        raise ValueError(f"cannot run {stored_bits}-bit weights at {active_bits} bits")
    return active_bits + int(active_bits < stored_bits)


def truncate_codes(codes: Tensor, stored_bits: int, active_bits: int) -> Tensor:
    """``stored_bits`` two's-complement codes run at ``active_bits``, as the odd integers
    ``2 * t + 1`` with ``t = floor(codes / 2**s)``, ``s = stored - active`` (codes unchanged
    when ``s = 0``); straight-through gradient.

    ``t`` is the top ``active_bits`` bit-planes of the stored codes: running at fewer weight
    bits is what a bit-wise PIM array does when it skips weight rows (Any-Precision DNNs'
    truncation, Yu et al., AAAI 2021). Floor truncation alone is biased by half a step
    (-2**(s-1) codes on every weight, an error of ``-2**(s-1) * sum(x)`` on every output that
    BN cannot absorb); ``t + 1/2``, the centre of the truncated bin, is unbiased (a mid-rise
    quantizer with ``2**active`` symmetric levels: ``{-1, +1}`` at 1 bit). In integers that is
    ``2t + 1`` at half the step; its two's-complement planes are ``t``'s planes (the stored
    rows) above a constant all-ones plane, so the array senses ``active + 1`` planes
    (:func:`sensed_weight_bits`) and stores nothing new.
    """
    shift = stored_bits - active_bits
    if shift < 0:
        raise ValueError(f"cannot run {stored_bits}-bit weights at {active_bits} bits")
    if shift == 0:
        return codes
    x = codes * (2.0 / float(1 << shift))
    odd = 2 * torch.floor(codes / float(1 << shift)) + 1
    return x - (x - odd).detach()  # mid-rise forward, identity gradient


def weight_codes_at(w: Tensor, stored_bits: int, active_bits: int) -> tuple[Tensor, Tensor]:
    """Codes and scales of ``w`` run at ``active_bits``: the odd mid-rise codes of
    :func:`truncate_codes` (in ``[-(2**active - 1), 2**active - 1]``, ``active + 1``-bit
    two's complement), scale times ``2**(stored - active - 1)``; the stored codes and scale
    when ``active_bits == stored_bits``."""
    codes, scale = weight_codes(w, stored_bits)
    if active_bits == stored_bits:
        return codes, scale
    return truncate_codes(codes, stored_bits, active_bits), \
        scale * (float(1 << (stored_bits - active_bits)) / 2.0)


def fake_quant_weight(w: Tensor, bits: int, active_bits: int | None = None) -> Tensor:
    """Quantize-dequantize ``w`` per output channel (identity for 32 bits), at ``active_bits``
    (default ``bits``) truncated from the ``bits``-bit codes."""
    if bits == FLOAT_BITS:
        return w
    codes, scale = weight_codes_at(w, bits, bits if active_bits is None else active_bits)
    return codes * scale.view(-1, *([1] * (w.dim() - 1)))


def affine_codes(x: Tensor, scale: Tensor, zero_point: int, qmax: int) -> Tensor:
    """Unsigned affine codes ``clamp(round(x / scale) + zero_point, 0, qmax)`` (float tensor)."""
    return torch.clamp(round_ste(x / scale) + zero_point, 0, qmax)


class ActQuant(nn.Module):
    """ReLU + unsigned ``bits``-bit quantization with a learned clip ``alpha`` (PACT/LSQ).

    Lower activation precisions (:meth:`add_bits`) each get a clip of their own in ``alphas``
    (AdaBits' switchable clipping level); the one used follows the model's active precision
    (``DynamicNet.set_precision``), ``bits`` when none is set.
    """

    initialized: Tensor  # buffer: alpha set from data yet

    def __init__(self, bits: int, init_alpha: float = 6.0) -> None:
        super().__init__()
        self.bits = check_bits("abits", bits)
        if self.bits == FLOAT_BITS:
            raise ValueError("ActQuant needs abits in 1..8 (use nn.ReLU for float)")
        self.alpha = nn.Parameter(torch.tensor(float(init_alpha)))
        self.alphas = nn.ParameterDict()  # str(bits) -> clip at that lower precision
        self.register_buffer("initialized", torch.tensor(False))
        self._state: SubnetState | None = None

    def bind_state(self, state: SubnetState) -> None:
        """Follow ``state.bits`` (the model's active precision)."""
        self._state = state

    def add_bits(self, bits: int) -> None:
        """Give lower precision ``bits`` a clip of its own (initialised like ``alpha``)."""
        b = check_bits("abits", bits)
        if not 1 <= b < self.bits:
            raise ValueError(f"an extra activation precision must be in 1..{self.bits - 1}, "
                             f"got {bits}")
        if str(b) not in self.alphas:
            self.alphas[str(b)] = nn.Parameter(self.alpha.detach().clone())

    @property
    def active_bits(self) -> int:
        state = self._state
        return self.bits if state is None or state.bits is None else state.bits[1]

    @property
    def qmax(self) -> int:
        return (1 << self.active_bits) - 1

    def _alpha(self) -> Tensor:
        b = self.active_bits
        if b == self.bits:
            return self.alpha
        try:
            return self.alphas[str(b)]
        except KeyError:
            raise ValueError(f"activation precision {b} was not added to this model "
                             f"(add_precisions); it has {sorted(int(k) for k in self.alphas)}"
                             ) from None

    def scale(self) -> Tensor:
        """Quantization step ``alpha / (2**bits - 1)`` at the active precision (float32
        scalar, as used in forward)."""
        return self._alpha().detach().abs().clamp_min(_EPS) / self.qmax

    def _init_from(self, x: Tensor) -> None:
        with torch.no_grad():
            flat = F.relu(x.detach()).flatten().float()
            if flat.numel() > 1 << 20:  # strided subsample keeps torch.quantile in range
                flat = flat[:: flat.numel() // (1 << 20) + 1]
            a = torch.quantile(flat, 0.999).clamp_min(1e-3)
            for p in (self.alpha, *self.alphas.values()):
                p.copy_(a)
            self.initialized.fill_(True)

    def codes(self, x: Tensor) -> Tensor:
        """Integer codes in ``[0, 2**bits - 1]`` at the active precision (float tensor, no
        gradient)."""
        s = self.scale()
        return torch.clamp(torch.round(torch.clamp(x, min=0) / s), 0, self.qmax)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and torch.is_grad_enabled() and not bool(self.initialized):
            self._init_from(x)  # first real training batch (not shape probes / BN calibration)
        if not torch.is_grad_enabled():
            return self.codes(x) * self.scale()
        qmax = self.qmax
        alpha = self._alpha().abs().clamp_min(_EPS)  # same value as scale() * qmax
        if alpha.requires_grad:  # LSQ gradient scaling, forward value untouched
            g = 1.0 / (max(1, x[0].numel()) * qmax) ** 0.5
            alpha.register_hook(lambda t: t * g)
        s = alpha / qmax
        y = torch.minimum(F.relu(x), alpha)
        return torch.clamp(round_ste(y / s), 0, qmax) * s

    def to_qdq(self) -> nn.Module:
        """This quantizer at its active precision as a standard QDQ module (ONNX export)."""
        return QDQAct(self)

    def extra_repr(self) -> str:
        extra = f", lower precisions {sorted(int(k) for k in self.alphas)}" if self.alphas else ""
        return f"bits={self.bits}, alpha={float(self.alpha.detach()):.4g}{extra}"


class InputQuant(nn.Module):
    """Affine unsigned ``bits``-bit quantizer of the (signed, normalised) network input.

    Tracks the min/max of training inputs (only in training mode with gradients enabled, so BN
    calibration and shape probes do not move it; ``[-1, 1]`` before any training batch);
    ``scale``/``zero_point`` follow from that range.
    """

    lo: Tensor  # buffers: the tracked input range, and whether a batch set it yet
    hi: Tensor
    initialized: Tensor

    def __init__(self, bits: int = 8) -> None:
        super().__init__()
        self.bits = check_bits("input_bits", bits)
        if self.bits == FLOAT_BITS:
            raise ValueError("InputQuant needs input_bits in 1..8")
        self.qmax = (1 << self.bits) - 1
        self.register_buffer("lo", torch.tensor(-1.0))
        self.register_buffer("hi", torch.tensor(1.0))
        self.register_buffer("initialized", torch.tensor(False))

    def qparams(self) -> tuple[Tensor, int]:
        """(scale as float32 scalar tensor, integer zero-point)."""
        lo, hi = self.lo.clamp(max=0.0), self.hi.clamp(min=0.0)
        scale = ((hi - lo) / self.qmax).clamp_min(_EPS)
        zp = int(torch.clamp(torch.round(-lo / scale), 0, self.qmax))
        return scale, zp

    def codes(self, x: Tensor) -> Tensor:
        scale, zp = self.qparams()
        return affine_codes(x.detach(), scale, zp, self.qmax)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                lo, hi = x.min().float(), x.max().float()
                if bool(self.initialized):
                    lo, hi = torch.minimum(lo, self.lo), torch.maximum(hi, self.hi)
                self.lo.copy_(lo)
                self.hi.copy_(hi)
                self.initialized.fill_(True)
        scale, zp = self.qparams()
        return (affine_codes(x, scale, zp, self.qmax) - zp) * scale

    def to_qdq(self) -> nn.Module:
        """This quantizer as a standard (affine) QDQ module (ONNX export)."""
        return QDQInput(self)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, range=[{float(self.lo):.4g}, {float(self.hi):.4g}]"


class _QuantWeights:
    """What the quantized conv and linear layers share: the stored ``wbits``, the bits in use
    (the model's run-time precision may lower them), the optional input quantizer in front of
    the static form, the QDQ export of the weight, the repr. Mixed in before the dynamic layer
    (``super()`` then reaches :class:`DynamicConv2d` / :class:`DynamicLinear`)."""

    wbits: int
    in_quant: nn.Module | None
    weight: nn.Parameter

    def _init_quant(self, wbits: int, in_quant: nn.Module | None) -> None:
        self.wbits = check_bits("wbits", wbits)
        self.in_quant = in_quant

    @property
    def active_wbits(self) -> int:
        """Weight bits in use: the model's active precision, else the stored ``wbits``."""
        state = getattr(self, "_state", None)
        return self.wbits if state is None or state.bits is None \
            else min(self.wbits, state.bits[0])

    def _fake_quant(self, weight: Tensor) -> Tensor:
        return fake_quant_weight(weight, self.wbits, self.active_wbits)

    def _quantize_input(self, x: Tensor) -> Tensor:
        return x if self.in_quant is None else self.in_quant(x)

    def _behind_input_quant(self, m: nn.Module) -> nn.Module:
        """The static layer ``m``, preceded by a frozen copy of the input quantizer if any."""
        if self.in_quant is None:
            return m
        return nn.Sequential(copy.deepcopy(self.in_quant).eval(), m)

    def qdq_weight(self, layer: nn.Conv2d | nn.Linear) -> nn.Module | None:
        """``layer`` (this layer's static form) with its weight as int8 codes x per-channel
        scales (QDQ, ONNX export); ``None`` for float weights."""
        if self.wbits == FLOAT_BITS:
            return None
        codes = weight_codes(self.weight.detach(), self.wbits)[1]
        return QDQWeight(layer, codes[:layer.weight.shape[0]])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, wbits={self.wbits}, active {self.active_wbits}"  # type: ignore[misc]


class QuantDynamicConv2d(_QuantWeights, DynamicConv2d):
    """:class:`DynamicConv2d` with fake-quantized weights (and an optional input quantizer)."""

    def __init__(self, *args, wbits: int = 8, in_quant: nn.Module | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_quant(wbits, in_quant)

    def quant_sliced(self, in_c: int, out_c: int) -> tuple[Tensor, Tensor | None, int]:
        """Fake-quant weight (scales from the full fan-in, sliced), bias and groups."""
        wq, b = self._fake_quant(self.weight), self.bias
        if self.depthwise:
            return wq[:in_c], None if b is None else b[:in_c], in_c
        return wq[:out_c, :in_c], None if b is None else b[:out_c], 1

    def forward(self, x: Tensor) -> Tensor:
        x = self._quantize_input(x)
        w, b, groups = self.quant_sliced(x.shape[1], self.active_out(self.out_channels))
        return F.conv2d(x, w, b, self.stride, self.padding, 1, groups)

    def to_static(self, in_c: int, out_c: int) -> nn.Module:
        """Plain ``nn.Conv2d`` holding the fake-quant weights (preceded by the input quantizer)."""
        return self._behind_input_quant(self.static_conv(in_c, *self.quant_sliced(in_c, out_c)))


class QuantDynamicLinear(_QuantWeights, DynamicLinear):
    """:class:`DynamicLinear` with fake-quantized weights and its own input quantizer (linear
    inputs in the zoo come from a pooling layer, off the activation grid)."""

    def __init__(self, *args, wbits: int = 8, in_quant: nn.Module | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_quant(wbits, in_quant)

    def quant_sliced(self, in_f: int, out_f: int) -> tuple[Tensor, Tensor | None]:
        wq = self._fake_quant(self.weight)
        return wq[:out_f, :in_f], None if self.bias is None else self.bias[:out_f]

    def forward(self, x: Tensor) -> Tensor:
        x = self._quantize_input(x)
        w, b = self.quant_sliced(x.shape[-1], self.active_out(self.out_features))
        return F.linear(x, w, b)

    def to_static(self, in_f: int, out_f: int) -> nn.Module:
        """Plain ``nn.Linear`` holding the fake-quant weights (preceded by the input quantizer)."""
        return self._behind_input_quant(static_linear(*self.quant_sliced(in_f, out_f)))


def load_float_weights(model: nn.Module, state: dict[str, Tensor]) -> list[str]:
    """Initialise a quantized model from a float model's ``state_dict`` (QAT fine-tuning).

    Every float tensor must match; only quantizer state (clips, input ranges) may be missing,
    and it is initialised from the first training batch. Returns the missing keys.
    """
    own = model.state_dict()
    for k, v in state.items():  # torch's own message spans several lines: one line here
        if k in own and tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(f"float state does not fit this model: {k} has shape "
                             f"{tuple(v.shape)}, the model expects {tuple(own[k].shape)}")
    res = model.load_state_dict(state, strict=False)
    quant_keys = ("alpha", "initialized", ".lo", ".hi")
    bad = [k for k in res.missing_keys if not (k.endswith(quant_keys) or ".alphas." in k)]
    if bad or res.unexpected_keys:
        raise ValueError(f"float state does not fit this model: missing {bad[:5]}, "
                         f"unexpected {list(res.unexpected_keys)[:5]}")
    if res.missing_keys:  # float state: quantizer ranges start again from data
        for m in model.modules():
            if isinstance(m, (ActQuant, InputQuant)):
                m.initialized.fill_(False)
    return list(res.missing_keys)


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Run CUDA convolutions and matmuls in true float32 inside the block (TF32 off).

    PyTorch lets cuDNN convolutions use TF32 (a 10-bit mantissa) by default. For a quantized
    model that error moves values across rounding boundaries (at 4 bits a visible share of
    them), so fake-quant outputs on a GPU stop matching the exact integer path. No effect on
    the CPU; the previous settings come back on exit.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
