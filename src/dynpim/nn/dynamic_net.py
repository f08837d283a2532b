"""``DynamicNet``: a weight-shared model made of dynamic layers, switched by ``SubnetConfig``."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from .bn import BNBank
from .layer_table import LayerTable
from .layers import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear, SubnetState, _Dynamic
from .precision import Precision, bank_key, check_precision, precision_suffix
from .residual import Residual
from .slots import Slot, SubnetConfig
from .specs import LayerSpec


@runtime_checkable
class _PrecisionSwitched(Protocol):
    """A module that follows the model's active precision (activation quantizers:
    :class:`dynpim.quant.ActQuant`), recognised by these members."""

    bits: int

    def bind_state(self, state: SubnetState) -> None: ...

    def add_bits(self, bits: int) -> None: ...


class DynamicNet(nn.Module):
    """Wraps a ``body`` (any module tree whose forward uses only its children) built from
    dynamic layers, with the slots those layers declare.

    ``name``/``args`` record how the model was built (``create_model(name, **args)``), so
    checkpoints can rebuild it.
    """

    def __init__(
        self,
        body: nn.Module,
        slots: Sequence[Slot],
        *,
        name: str = "custom",
        args: dict[str, Any] | None = None,
        input_size: tuple[int, int, int] = (3, 32, 32),
    ) -> None:
        super().__init__()
        self.body = body
        self.slots: tuple[Slot, ...] = tuple(slots)
        names = [s.name for s in self.slots]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate slot names in {names}")
        self.name = name
        self.args = dict(args or {})
        self.input_size = tuple(input_size)
        # how raw images become input (mean/std per channel; set by training and checkpoints)
        self.preprocessing: dict[str, Any] | None = None
        self._state = SubnetState()
        self._validated: set[str] = set()
        # one LayerTable per input size; slots and layers are bound at construction (above)
        self._tables: dict[tuple[int, ...], LayerTable] = {}
        index = {n: i for i, n in enumerate(names)}
        for lname, m in self.dynamic_layers():
            for s in (m.in_slot, m.out_slot):
                if s is not None and s not in index:
                    raise ValueError(f"layer {lname!r} names unknown slot {s!r}")
            m._bind(self._state, index)
        for rname, mod in self.body.named_modules():
            if isinstance(mod, Residual):
                a, b = mod.joined_slots()
                if a is not None and b is not None and a != b:
                    raise ValueError(f"residual {rname!r} adds slot {a!r} to slot {b!r}: both "
                                     "sides of a residual addition must share one slot")
        for mod in self.body.modules():
            if isinstance(mod, _PrecisionSwitched):  # activation quantizers follow the precision
                mod.bind_state(self._state)
        self.set_subnet(self.max_config())

    # -- configs -----------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)

    def dynamic_layers(self) -> Iterator[tuple[str, _Dynamic]]:
        for n, m in self.body.named_modules():
            if isinstance(m, _Dynamic):
                yield n, m

    def max_config(self) -> SubnetConfig:
        return SubnetConfig(s.max_channels for s in self.slots)

    def min_config(self) -> SubnetConfig:
        return SubnetConfig(s.min_channels for s in self.slots)

    @property
    def current_config(self) -> SubnetConfig:
        return SubnetConfig(self._state.widths)

    def validate(self, cfg: SubnetConfig | Sequence[int]) -> SubnetConfig:
        """Return ``cfg`` as a validated ``SubnetConfig`` (``ValueError`` names the slot)."""
        if not isinstance(cfg, SubnetConfig):
            cfg = SubnetConfig(cfg)
        if cfg.key not in self._validated:
            cfg.validate(self.slots)
            self._validated.add(cfg.key)
        return cfg

    def set_subnet(self, cfg: SubnetConfig | Sequence[int]) -> None:
        """Activate ``cfg``: O(1), no weight copies, no statistics recomputed."""
        cfg = self.validate(cfg)
        self._state.widths = cfg.widths
        self._state.key = bank_key(cfg.key, self._state.bits)

    @contextmanager
    def subnet(self, cfg: SubnetConfig | Sequence[int],
               bits: Precision | None | Literal["keep"] = "keep") -> Iterator[SubnetConfig]:
        """Run a block at ``cfg`` (and at precision ``bits``, if given) and restore the
        previous config and precision afterwards."""
        prev = (self._state.widths, self._state.key, self._state.bits)
        if bits != "keep":
            self.set_precision(bits)
        self.set_subnet(cfg)
        try:
            yield self.current_config
        finally:
            self._state.widths, self._state.key, self._state.bits = prev

    # -- precision -----------------------------------------------------------------------------
    @property
    def stored_precision(self) -> Precision | None:
        """(wbits, abits) the weights are stored and trained at; ``None`` for a float model."""
        w, a = int(self.args.get("wbits", 32)), int(self.args.get("abits", 32))
        return None if 32 in (w, a) else (w, a)

    @property
    def precisions(self) -> tuple[Precision, ...]:
        """Precisions this model can switch to: its stored one first, then the added ones."""
        top = self.stored_precision
        if top is None:
            return ()
        extra = [tuple(p) for p in self.args.get("precisions", ()) if tuple(p) != top]
        return (top, *extra)

    @property
    def current_precision(self) -> Precision | None:
        """The active (wbits, abits); the stored one unless :meth:`set_precision` changed it."""
        return self._state.bits or self.stored_precision

    def add_precisions(self, precisions: Sequence[Sequence[int]]) -> None:
        """Allow switching to each ``(wbits, abits)`` of ``precisions`` (at most the stored bits):
        every activation quantizer gets a clip of its own per lower activation precision, and,
        if ``args['bn_per_precision']``, every BN layer a scale and shift of its own per lower
        precision. Recorded in ``args['precisions']`` so checkpoints rebuild it."""
        top = self.stored_precision
        if top is None:
            raise ValueError("precisions need a quantized model (create_model(..., wbits=, "
                             "abits=))")
        checked = [check_precision(p, top) for p in precisions]
        for m in self.body.modules():
            if isinstance(m, _PrecisionSwitched):
                for _, a in checked:
                    if a < m.bits:
                        m.add_bits(a)
            elif isinstance(m, DynamicBatchNorm2d) and self.args.get("bn_per_precision"):
                for p in checked:
                    if p != top:
                        m.add_precision_affine(precision_suffix(p))
        known = [tuple(p) for p in self.args.get("precisions", ())]
        self.args["precisions"] = [list(p) for p in dict.fromkeys(known + checked)]

    def set_precision(self, bits: Sequence[int] | None) -> None:
        """Run at ``bits = (wbits, abits)`` (``None``: the stored precision). O(1): weights
        are truncated and activations re-clipped at forward time; BN statistics are read from
        the bank entry of (config, precision)."""
        if bits is not None:
            if self.stored_precision is None:
                raise ValueError("set_precision needs a quantized model (create_model(..., "
                                 "wbits=, abits=))")
            b = check_precision(bits, self.stored_precision)
            if b not in self.precisions:
                raise ValueError(f"precision {b} was not added to this model (add_precisions); "
                                 f"it has {list(self.precisions)}")
            bits = None if b == self.stored_precision else b
        self._state.bits = bits
        self._state.key = bank_key(self.current_config.key, self._state.bits)

    @contextmanager
    def precision(self, bits: Sequence[int] | None) -> Iterator[Precision | None]:
        """Run a block at precision ``bits`` and restore the previous one afterwards."""
        prev = (self._state.bits, self._state.key)
        self.set_precision(bits)
        try:
            yield self.current_precision
        finally:
            self._state.bits, self._state.key = prev

    def random_config(self, generator: torch.Generator | None = None) -> SubnetConfig:
        """A uniformly random valid width per slot (non-uniform)."""
        out = []
        for s in self.slots:
            choices = s.allowed()
            i = int(torch.randint(len(choices), (1,), generator=generator))
            out.append(choices[i])
        return SubnetConfig(out)

    # -- shapes and counts -------------------------------------------------------------------
    def _io_widths(self, m: _Dynamic, widths: Sequence[int]) -> tuple[int, int]:
        max_in = getattr(m, "in_channels", getattr(m, "in_features", getattr(m, "num_features", 0)))
        max_out = getattr(m, "out_channels", getattr(m, "out_features",
                                                       getattr(m, "num_features", 0)))
        cin = widths[m.in_slot_idx] if m.in_slot_idx is not None else max_in
        cout = widths[m.out_slot_idx] if m.out_slot_idx is not None else max_out
        return cin, cout

    def layer_table_at(self, input_size: Sequence[int] | None = None) -> LayerTable:
        """The model's :class:`LayerTable` at ``input_size`` (default: ``self.input_size``):
        its conv/linear layers at max width with their slots and spatial sizes. Built once per
        input size by a forward pass at the max config, then cached (rebuilt only if
        ``self.slots`` is replaced: layers bind their slots at construction)."""
        size = tuple(input_size or self.input_size)
        table = self._tables.get(size)
        if table is None or table.slots is not self.slots:
            table = self._tables[size] = LayerTable(tuple(self._trace_specs(size)), self.slots)
        return table

    def _trace_specs(self, size: tuple[int, ...]) -> list[LayerSpec]:
        """Conv/linear layers at max width, spatial sizes read by hooks on one forward pass."""
        hw: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
        hooks = []
        for n, m in self.dynamic_layers():
            if isinstance(m, (DynamicConv2d, DynamicLinear)):
                def hook(mod, inp, out, n=n):
                    i, o = inp[0], out
                    hw[n] = ((i.shape[2], i.shape[3]), (o.shape[2], o.shape[3])) if i.dim() == 4 \
                        else ((1, 1), (1, 1))
                hooks.append(m.register_forward_hook(hook))
        was_training = self.training
        try:
            with torch.no_grad(), self.subnet(self.max_config()):
                self.train()
                self(torch.zeros(2, *size, device=next(self.parameters()).device))
        finally:
            for h in hooks:
                h.remove()
            self.train(was_training)
        specs = []
        for n, m in self.dynamic_layers():
            if isinstance(m, DynamicConv2d):
                kind = "dwconv" if m.depthwise else "conv"
                specs.append(LayerSpec(
                    n, kind, m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                    m.in_channels if m.depthwise else 1, hw[n][0], hw[n][1],
                    m.in_slot_idx, m.out_slot_idx, m.bias is not None))
            elif isinstance(m, DynamicLinear):
                specs.append(LayerSpec(
                    n, "linear", m.in_features, m.out_features, (1, 1), (1, 1), (0, 0), 1,
                    (1, 1), (1, 1), m.in_slot_idx, m.out_slot_idx, m.bias is not None))
        return specs

    def layer_table(self, input_size: Sequence[int] | None = None) -> list[LayerSpec]:
        """Conv/linear layers at max width with their slot indices and spatial sizes (the
        specs of :meth:`layer_table_at`, as a list)."""
        return list(self.layer_table_at(input_size).specs)

    def layer_specs(self, cfg: SubnetConfig | Sequence[int] | None = None,
                    input_size: Sequence[int] | None = None) -> list[LayerSpec]:
        """Conv/linear layers of the sub-net ``cfg`` (default: the active one)."""
        cfg = self.validate(cfg) if cfg is not None else self.current_config
        return self.layer_table_at(input_size).specs_at(cfg.widths)

    def macs(self, cfg: SubnetConfig | Sequence[int] | None = None,
             input_size: Sequence[int] | None = None) -> int:
        """Multiply-accumulates of one inference (conv + linear layers)."""
        cfg = self.validate(cfg) if cfg is not None else self.current_config
        table = self.layer_table_at(input_size)
        return int(table.geometry.macs(np.asarray([cfg.widths], dtype=np.int64))[0])

    def params(self, cfg: SubnetConfig | Sequence[int] | None = None) -> int:
        """Parameters of the sub-net: conv/linear weights and biases, BN affine."""
        cfg = self.validate(cfg) if cfg is not None else self.current_config
        n = sum(s.params for s in self.layer_specs(cfg))
        for _, m in self.dynamic_layers():
            if isinstance(m, DynamicBatchNorm2d):
                n += 2 * self._io_widths(m, cfg.widths)[1]
        return n

    # -- export and BN bank ------------------------------------------------------------------
    def export_subnet(self, cfg: SubnetConfig | Sequence[int] | None = None, *,
                      onnx: str | None = None,
                      metadata: dict[str, Any] | None = None) -> nn.Module:
        """A plain ``torch.nn`` copy of the sub-net (Conv2d/BatchNorm2d/Linear), in eval mode.

        The sub-net runs at the active precision (``precision``/``subnet(cfg, bits=)``): its
        truncated weights, its activation clips and its BN statistics, which must be calibrated
        for ``cfg`` at that precision (``calibrate_bn``). With ``onnx``,
        also writes the sub-net as ONNX there (:func:`dynpim.nn.onnx.export_onnx`: QDQ graph for
        quantized models; ``preprocessing`` and ``metadata`` in its metadata).
        """
        cfg = self.validate(cfg) if cfg is not None else self.current_config
        if onnx is not None:
            from .onnx import export_onnx

            export_onnx(self, onnx, cfg, metadata=metadata)
        replacements: dict[str, nn.Module] = {}
        for n, m in self.dynamic_layers():
            cin, cout = self._io_widths(m, cfg.widths)
            if isinstance(m, DynamicBatchNorm2d):  # the statistics of cfg at this precision
                replacements[n] = m.to_static(bank_key(cfg.key, self._state.bits), cout)
            elif isinstance(m, (DynamicConv2d, DynamicLinear)):
                replacements[n] = m.to_static(cin, cout)
            else:
                raise TypeError(f"layer {n!r}: no static form for {type(m).__name__}")
        body = copy.deepcopy(self.body)
        for n, new in replacements.items():
            parent_name, _, child = n.rpartition(".")
            parent = body.get_submodule(parent_name) if parent_name else body
            setattr(parent, child, new)
        return body.eval()

    @property
    def bn_bank(self) -> BNBank:
        """The BN statistics per sub-net config: calibration, snapshot / restore, the form
        checkpoints store (a view over the BN layers' bank buffers)."""
        return BNBank(self)

    def bank_state_keys(self) -> set[str]:
        """The ``state_dict`` keys that hold BN bank statistics (buffers of the bank)."""
        return self.bn_bank.state_dict_keys()

    def weights_state_dict(self) -> dict[str, Tensor]:
        """``state_dict()`` without the BN bank: what does not change when BN is calibrated."""
        bank = self.bank_state_keys()
        return {k: v for k, v in self.state_dict().items() if k not in bank}

    def bn_bank_state(self) -> dict[str, Tensor]:
        """Flat dict ``{layer|config_key|mean/var: tensor}`` of every banked statistic."""
        return self.bn_bank.state()

    def load_bn_bank_state(self, state: dict[str, Tensor]) -> None:
        """Inverse of :meth:`bn_bank_state`; checks layer names and widths."""
        self.bn_bank.load_state(state)

    def banked_configs(self, bits: Sequence[int] | None = None) -> list[SubnetConfig]:
        """Configs whose BN statistics are calibrated in every BN layer, at precision ``bits``
        (default: the stored precision)."""
        return self.bn_bank.configs(bits)

    def clear_bn_bank(self) -> None:
        self.bn_bank.clear()

    def extra_repr(self) -> str:
        return f"name={self.name!r}, slots={len(self.slots)}"
