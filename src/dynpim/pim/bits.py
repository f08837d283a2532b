"""The bit widths each layer really runs at, read from the (quantized) model itself.

A quantized dynpim model (``create_model(..., wbits=, abits=)``) stores weights at its layers'
``wbits``, quantizes the network input to ``input_bits`` (8 by default: the first layer reads
8-bit codes whatever ``abits`` is) and every other activation to ``abits``. The cost model must
charge each layer at those widths; explicit ``wbits``/``abits`` arguments override them (for
float models, or what-if studies), but never the input quantizer's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import check_bits
from ..nn.specs import LayerSpec
from ..quant import InputQuant
from .hardware import Hardware

_FLOAT = 32
DEFAULT_INPUT_BITS = 8  # the zoo's InputQuant default: what a float model's input becomes


@dataclass(frozen=True)
class LayerBits:
    """Per-layer bit widths, aligned with a model's ``layer_table``."""

    wbits: np.ndarray  # (n_layers,) weight bits sensed (the active precision)
    abits: np.ndarray  # (n_layers,) bits of the activations the layer reads
    out_bits: np.ndarray  # (n_layers,) bits of the outputs it sends back to the buffer
    stored_wbits: np.ndarray | None = None  # weight rows per channel in the arrays (>= wbits)

    @property
    def sensed_wbits(self) -> np.ndarray:
        """Weight planes each layer senses: ``wbits``, plus the all-ones plane of mid-rise
        truncation (:func:`dynpim.quant.sensed_weight_bits`) where it runs below its stored
        bits."""
        if self.stored_wbits is None:
            return self.wbits
        return self.wbits + (self.wbits < self.stored_wbits).astype(np.int64)

    @property
    def placed_wbits(self) -> np.ndarray:
        """Weight bits the placement reserves rows for (stored, else sensed)."""
        return self.wbits if self.stored_wbits is None else self.stored_wbits

    @property
    def uniform(self) -> tuple[int, int]:
        """(wbits, abits) of the inner layers: the most common widths."""
        w = np.bincount(self.wbits).argmax()
        a = np.bincount(self.abits).argmax()
        return int(w), int(a)


def uniform_bits(n_layers: int, hw: Hardware, wbits, abits) -> LayerBits:
    """Every layer at ``wbits``/``abits`` (ints or one per layer; None: the preset default)."""
    def arr(name, v, default):
        if v is None:
            v = default
        if isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, str):
            vals = [check_bits(name, x) for x in v]
            if len(vals) != n_layers:
                raise ValueError(f"{name} has {len(vals)} values for {n_layers} layers")
            return np.array(vals, dtype=np.int64)
        return np.full(n_layers, check_bits(name, v), dtype=np.int64)
    w = arr("wbits", wbits, hw.quantization.wbits)
    a = arr("abits", abits, hw.quantization.abits)
    return LayerBits(w, a, a.copy())


def _reads_input(spec: LayerSpec) -> bool:
    """A conv with no input slot reads the network input (in a quantized zoo model it carries
    the input quantizer)."""
    return spec.kind in ("conv", "dwconv") and spec.in_slot is None


def model_bits(model, table: Sequence[LayerSpec], hw: Hardware, wbits=None,
               abits=None) -> LayerBits:
    """Bits of every layer of ``model`` (rows of ``table``): each quantized layer's weight bits
    at the model's active precision (``DynamicNet.set_precision``; stored at its own
    ``wbits``, which the placement reserves rows for); activations at the active ``abits``,
    except layers reading the network input, which read ``input_bits``-bit codes.
    ``wbits``/``abits`` override the model's values (and give the widths of a float model);
    the input width is never overridden."""
    args = getattr(model, "args", {}) or {}
    m_w, m_a = int(args.get("wbits", _FLOAT)), int(args.get("abits", _FLOAT))
    active = getattr(getattr(model, "_state", None), "bits", None)
    if active is not None:
        m_a = int(active[1])
    default_w = hw.quantization.wbits if m_w == _FLOAT else m_w
    default_a = hw.quantization.abits if m_a == _FLOAT else m_a
    act = check_bits("abits", default_a if abits is None else abits)
    modules = dict(model.dynamic_layers())
    w, a, stored = [], [], []
    for spec in table:
        mod = modules.get(spec.name)
        own = getattr(mod, "active_wbits", getattr(mod, "wbits", None))
        wb = wbits if wbits is not None else (own if own is not None else default_w)
        w.append(check_bits("wbits", wb))
        stored.append(max(w[-1], int(getattr(mod, "wbits", 0) or 0)) if wbits is None
                      else w[-1])
        quant = getattr(mod, "in_quant", None)
        if isinstance(quant, InputQuant):
            a.append(check_bits("input_bits", quant.bits))
        else:
            a.append(DEFAULT_INPUT_BITS if _reads_input(spec) else act)
    n = len(table)
    return LayerBits(np.array(w, dtype=np.int64), np.array(a, dtype=np.int64),
                     np.full(n, act, dtype=np.int64), np.array(stored, dtype=np.int64))
