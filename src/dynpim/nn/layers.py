"""Dynamic layers: max-width parameters, sliced to the active channel counts at forward time.

Input channels are taken from the input tensor; output channels from the layer's slot in the
model's shared :class:`SubnetState` (set by ``DynamicNet.set_subnet``), so switching a sub-net
is one assignment, not a walk over layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .precision import precision_suffix


class SubnetState:
    """Per-model mutable cell holding the active widths, precision and BN bank key (never
    global). ``bits`` is ``None`` at the model's own precision, else ``(wbits, abits)``."""

    __slots__ = ("widths", "key", "calibrating", "bits")

    def __init__(self, widths: tuple[int, ...] = (), key: str = "") -> None:
        self.widths = widths
        self.key = key
        self.calibrating = False
        self.bits: tuple[int, int] | None = None


class _Dynamic(nn.Module):
    """Common slot bookkeeping: ``in_slot``/``out_slot`` are slot names (``None`` = fixed)."""

    in_slot: str | None
    out_slot: str | None
    weight: nn.Parameter  # every dynamic layer has a (max-width) weight; BN: its scale
    bias: nn.Parameter | None

    def _bind(self, state: SubnetState, slot_index: dict[str, int]) -> None:
        self._state = state
        self.in_slot_idx = slot_index[self.in_slot] if self.in_slot is not None else None
        self.out_slot_idx = slot_index[self.out_slot] if self.out_slot is not None else None

    def active_out(self, max_out: int) -> int:
        state = getattr(self, "_state", None)
        if self.out_slot_idx is None or state is None or not state.widths:
            return max_out
        return state.widths[self.out_slot_idx]

    out_slot_idx: int | None = None
    in_slot_idx: int | None = None


class DynamicConv2d(_Dynamic):
    """Conv2d whose output channels follow ``out_slot``; ``depthwise=True`` ties in and out."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        depthwise: bool = False,
        bias: bool = False,
        in_slot: str | None = None,
        out_slot: str | None = None,
    ) -> None:
        super().__init__()
        if depthwise and in_channels != out_channels:
            raise ValueError("depthwise conv needs in_channels == out_channels")
        if depthwise and in_slot != out_slot:
            raise ValueError("depthwise conv must use the same slot for input and output")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kernel_size, kernel_size)
        self.stride, self.padding = (stride, stride), (padding, padding)
        self.depthwise = depthwise
        self.in_slot, self.out_slot = in_slot, out_slot
        fan_in_ch = 1 if depthwise else in_channels
        self.weight = nn.Parameter(torch.empty(out_channels, fan_in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def sliced(self, in_c: int, out_c: int) -> tuple[Tensor, Tensor | None, int]:
        """Weight view, bias view and groups for the given channel counts (no copies)."""
        if self.depthwise:
            return self.weight[:in_c], None if self.bias is None else self.bias[:in_c], in_c
        w = self.weight[:out_c, :in_c]
        return w, None if self.bias is None else self.bias[:out_c], 1

    def forward(self, x: Tensor) -> Tensor:
        in_c = x.shape[1]
        w, b, groups = self.sliced(in_c, self.active_out(self.out_channels))
        return F.conv2d(x, w, b, self.stride, self.padding, 1, groups)

    def to_static(self, in_c: int, out_c: int) -> nn.Module:
        """Plain ``nn.Conv2d`` at these channel counts (subclasses may add a quantizer)."""
        return self.static_conv(in_c, *self.sliced(in_c, out_c))

    def static_conv(self, in_c: int, w: Tensor, b: Tensor | None, groups: int) -> nn.Conv2d:
        """``nn.Conv2d`` with this layer's geometry holding copies of ``w`` and ``b``."""
        m = nn.Conv2d(in_c, w.shape[0], self.kernel_size, self.stride, self.padding,
                      groups=groups, bias=b is not None)
        _copy_params(m, w, b)
        return m

    def extra_repr(self) -> str:
        kind = "depthwise, " if self.depthwise else ""
        return (f"{kind}{self.in_channels}->{self.out_channels}, k={self.kernel_size[0]}, "
                f"s={self.stride[0]}, p={self.padding[0]}, slots={self.in_slot}->{self.out_slot}")


class DynamicLinear(_Dynamic):
    """Linear layer whose in/out features follow the input and ``out_slot``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        in_slot: str | None = None,
        out_slot: str | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.in_slot, self.out_slot = in_slot, out_slot
        ref = nn.Linear(in_features, out_features, bias=bias)
        self.weight = nn.Parameter(ref.weight.detach().clone())
        self.bias = nn.Parameter(ref.bias.detach().clone()) if bias else None

    def sliced(self, in_f: int, out_f: int) -> tuple[Tensor, Tensor | None]:
        return self.weight[:out_f, :in_f], None if self.bias is None else self.bias[:out_f]

    def forward(self, x: Tensor) -> Tensor:
        w, b = self.sliced(x.shape[-1], self.active_out(self.out_features))
        return F.linear(x, w, b)

    def to_static(self, in_f: int, out_f: int) -> nn.Module:
        """Plain ``nn.Linear`` at these feature counts (subclasses may add a quantizer)."""
        return static_linear(*self.sliced(in_f, out_f))

    def extra_repr(self) -> str:
        return f"{self.in_features}->{self.out_features}, slots={self.in_slot}->{self.out_slot}"


def static_linear(w: Tensor, b: Tensor | None) -> nn.Linear:
    """``nn.Linear`` holding copies of ``w`` (out, in) and ``b``."""
    m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    _copy_params(m, w, b)
    return m


def _copy_params(m: nn.Conv2d | nn.Linear, w: Tensor, b: Tensor | None) -> None:
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None and m.bias is not None:  # m has a bias exactly when b is given
            m.bias.copy_(b)


class DynamicBatchNorm2d(_Dynamic):
    """BatchNorm2d with shared (sliced) affine parameters and a bank of running statistics per
    sub-net config.

    Training mode normalises with batch statistics; with ``sync = True`` (see
    :func:`dynpim.nn.set_sync_batchnorm`) those statistics are taken over the whole global batch
    of a ``torch.distributed`` run, gradients included (SyncBatchNorm). While the model is
    calibrating
    (``calibrate_bn``), batch statistics are accumulated into the bank entry of the active config
    (cumulative average over the calibration batches). Eval mode reads the bank entry of the
    active config and raises if that config was never calibrated: no silent fallback.

    The bank is module state: each entry is a pair of buffers ``bank_<key>_mean`` /
    ``bank_<key>_var``, so ``.to()``, ``.double()``, ``.half()``, ``copy.deepcopy`` and
    ``state_dict()`` carry it. ``load_state_dict`` replaces the bank by the one in the state
    dict when that holds any bank entry for this layer, and keeps it when it holds none (a
    weights-only state dict, as in checkpoints' ``model.safetensors``).
    """

    bias: nn.Parameter  # BN always has its shift

    def __init__(self, num_features: int, *, slot: str | None = None, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.in_slot = self.out_slot = slot
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        # optional scale and shift of their own per lower precision ("w4a4": ...), as
        # Any-Precision DNNs keep a BN layer per bit-width; empty unless added
        self.precision_weight = nn.ParameterDict()
        self.precision_bias = nn.ParameterDict()
        self._acc: list = []  # [sum_mean, sum_var, n] while calibrating
        self.sync = False  # batch statistics over all processes of the default group

    def add_precision_affine(self, suffix: str) -> None:
        """Give precision ``suffix`` (``"w4a4"``) a scale and shift of its own, starting as
        copies of the shared ones (no-op if it has them)."""
        if suffix not in self.precision_weight:
            self.precision_weight[suffix] = nn.Parameter(self.weight.detach().clone())
            self.precision_bias[suffix] = nn.Parameter(self.bias.detach().clone())

    def affine(self, suffix: str | None, c: int) -> tuple[Tensor, Tensor]:
        """The scale and shift (first ``c`` channels) at precision ``suffix``: its own if
        added, else the shared ones."""
        if suffix is not None and suffix in self.precision_weight:
            return self.precision_weight[suffix][:c], self.precision_bias[suffix][:c]
        return self.weight[:c], self.bias[:c]

    @property
    def bank(self) -> LayerBank:
        """This layer's banked statistics, ``{bank key: (mean, var)}`` (a live mapping view;
        the model-wide bank keyed by config is :class:`dynpim.nn.BNBank`)."""
        return LayerBank(self)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        incoming: dict[str, dict[str, Tensor]] = {}
        for k, v in state_dict.items():
            if k.startswith(prefix):
                match = _BANK_NAME.match(k[len(prefix):])
                if match:
                    incoming.setdefault(match.group(1), {})[match.group(2)] = v
        hidden = {}
        if incoming:  # replace the bank: buffers of the right shape, filled by the copy below
            for key in list(self.bank):
                if key not in incoming:
                    del self.bank[key]
            for key, d in incoming.items():
                for which, v in d.items():
                    name = _bank_buffer(key, which)
                    if name not in self._buffers:
                        self._buffers[name] = torch.empty(
                            v.shape, dtype=self.weight.dtype, device=self.weight.device)
        else:  # no bank in the state dict: keep ours, neither missing nor loaded
            hidden = {n: t for n, t in self._buffers.items() if _BANK_NAME.match(n)}
            for n in hidden:
                del self._buffers[n]
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)
        finally:
            self._buffers.update(hidden)

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        state = getattr(self, "_state", None)
        key = state.key if state is not None else ""
        bits = state.bits if state is not None else None
        w, b = self.affine(None if bits is None else precision_suffix(bits), c)
        if self.training:
            calibrating = state is not None and state.calibrating
            if calibrating:
                with torch.no_grad():
                    mean = x.mean(dim=(0, 2, 3))
                    var = x.var(dim=(0, 2, 3), unbiased=x.numel() // c > 1)
                    if not self._acc:
                        self._acc = [torch.zeros_like(mean), torch.zeros_like(var), 0]
                    self._acc[0] += mean
                    self._acc[1] += var
                    self._acc[2] += 1
            # only training passes sync: calibration and no-grad probes (shape tracing) are
            # per process, and may run on one rank only
            if self.sync and not calibrating and torch.is_grad_enabled() \
                    and torch.distributed.is_initialized():
                return _sync_batch_norm(x, w, b, self.eps)
            return F.batch_norm(x, None, None, w, b, True, 0.0, self.eps)
        run_mean = self._buffers.get(_bank_buffer(key, "mean"))
        run_var = self._buffers.get(_bank_buffer(key, "var"))
        if run_mean is None or run_var is None:
            raise RuntimeError(
                f"BN statistics for sub-net config [{key}] are not calibrated; call "
                f"dynpim.nn.calibrate_bn(model, cfg, batches) for it first"
            )
        return F.batch_norm(x, run_mean, run_var, w, b, False, 0.0, self.eps)

    def finish_calibration(self) -> None:
        """Store the accumulated statistics under the active config key."""
        if self._acc and self._acc[2] > 0:
            s_mean, s_var, n = self._acc
            self.bank[self._state.key] = (s_mean / n, s_var / n)
        self._acc = []

    def to_static(self, key: str, c: int) -> nn.BatchNorm2d:
        if key not in self.bank:
            raise RuntimeError(f"BN statistics for sub-net config [{key}] are not calibrated")
        mean, var = self.bank[key]
        suffix = key.rpartition("-")[2]  # the precision's, if the key names one
        w, b = self.affine(suffix if _PRECISION_SUFFIX.fullmatch(suffix) else None, c)
        m = nn.BatchNorm2d(c, eps=self.eps)
        with torch.no_grad():
            m.weight.copy_(w)
            m.bias.copy_(b)
            # BatchNorm2d tracks running statistics by default: both buffers exist
            cast(Tensor, m.running_mean).copy_(mean)
            cast(Tensor, m.running_var).copy_(var)
        return m.eval()

    def extra_repr(self) -> str:
        return f"{self.num_features}, slot={self.in_slot}, banked_configs={len(self.bank)}"


_PRECISION_SUFFIX = re.compile(r"w[0-9]+a[0-9]+")
_BANK_NAME = re.compile(r"^bank_([0-9]*(?:-[0-9]+)*(?:-w[0-9]+a[0-9]+)?)_(mean|var)$")


def _bank_buffer(key: str, which: str) -> str:
    return f"bank_{key}_{which}"


class LayerBank(MutableMapping):
    """``{bank key: (mean, var)}`` view of one :class:`DynamicBatchNorm2d`'s bank buffers.

    Setting an entry registers (or replaces) the two buffers, moved to the layer's device and
    floating dtype; reading returns the buffers themselves (no copies)."""

    def __init__(self, bn: DynamicBatchNorm2d) -> None:
        self._bn = bn

    def _keys(self) -> list[str]:
        out = []
        for n in self._bn._buffers:
            match = _BANK_NAME.match(n)
            if match and match.group(2) == "mean":
                out.append(match.group(1))
        return out

    def __getitem__(self, key: str) -> tuple[Tensor, Tensor]:
        bufs = self._bn._buffers
        mean, var = bufs.get(_bank_buffer(key, "mean")), bufs.get(_bank_buffer(key, "var"))
        if mean is None or var is None:
            raise KeyError(key)
        return mean, var

    def __setitem__(self, key: str, value: tuple[Tensor, Tensor]) -> None:
        if not re.fullmatch(r"[0-9]*(?:-[0-9]+)*(?:-w[0-9]+a[0-9]+)?", key):
            raise ValueError(f"BN bank key must be a config key like '16-32' (or '16-32-w4a4' "
                             f"at a precision), got {key!r}")
        mean, var = value
        ref = self._bn.weight
        for which, t in (("mean", mean), ("var", var)):
            t = t.detach().to(device=ref.device, dtype=ref.dtype if t.is_floating_point()
                              else t.dtype)
            self._bn._buffers[_bank_buffer(key, which)] = t

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        del self._bn._buffers[_bank_buffer(key, "mean")]
        del self._bn._buffers[_bank_buffer(key, "var")]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _bank_buffer(key, "mean") in self._bn._buffers

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return f"LayerBank({self._keys()})"


def _sync_batch_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Batch norm with mean and (biased) variance over every process's batch; the all-reduces
    are autograd-aware, so the backward pass is that of one process holding the global batch
    (with the trainer's gradient averaging). Assumes equal-sized shares, as the trainer makes."""
    all_reduce = _AllReduceSum.apply
    c = x.shape[1]
    count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
    total = all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), count]))
    mean = total[:c] / total[c]
    centred = x - mean[None, :, None, None]
    var = all_reduce(centred.square().sum(dim=(0, 2, 3))) / total[c]
    scale = weight * torch.rsqrt(var + eps)
    return centred * scale[None, :, None, None] + bias[None, :, None, None]


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes whose backward is the same sum of the incoming gradients (the output
    on every rank depends on every rank's input)."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        out = t.clone()
        torch.distributed.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad
