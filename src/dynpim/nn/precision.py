"""Run-time precision: a (weight bits, activation bits) setting switched like a width — the
knob itself (its validation, parsing and the BN bank key of a config at a precision). What a
precision does to weights and activations is :mod:`dynpim.quant`'s (``truncate_codes``,
``ActQuant``'s clip per precision).

A quantized model stores its weights once, at its own (highest) ``wbits``. Running at fewer
weight bits senses only the top bit-planes of those stored codes, which is what a bit-wise PIM
array does when it skips weight rows: the ``w``-bit codes are the stored codes shifted right by
``wbits - w`` (two's complement; Any-Precision DNNs' truncation, Yu et al., AAAI 2021), read at
the centre of their bin (mid-rise: the odd codes ``2t + 1`` at a scale ``2**(wbits - w - 1)``
times larger, one all-ones plane more to sense). Activations at fewer bits are re-quantized with a
clipping level of their own per setting (AdaBits' switchable clipping level, Jin et al., CVPR
2020). BN statistics are banked per (config, precision). The network input keeps its
``input_bits``.
"""

from __future__ import annotations

from collections.abc import Iterable

Precision = tuple[int, int]  # (weight bits, activation bits)
_SUFFIX = "w{}a{}"


def check_precision(bits: object, max_bits: Precision) -> Precision:
    """``bits`` as a validated ``(wbits, abits)`` pair not above ``max_bits``."""
    try:
        if not isinstance(bits, Iterable):
            raise TypeError
        w, a = (int(v) for v in bits)
        ok = all(not isinstance(v, bool) and int(v) == v for v in bits)
    except (TypeError, ValueError):
        raise ValueError(f"precision must be a (wbits, abits) pair, got {bits!r}") from None
    if not ok or not (1 <= w <= max_bits[0] and 1 <= a <= max_bits[1]):
        raise ValueError(f"precision {bits!r} not allowed: wbits in 1..{max_bits[0]}, abits in "
                         f"1..{max_bits[1]} (the model's stored bits)")
    return w, a


def parse_precisions(text: str) -> list[Precision]:
    """``"4/4,2/2"`` -> ``[(4, 4), (2, 2)]`` (weight bits / activation bits per setting)."""
    out = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        w, sep, a = item.partition("/")
        if not sep or not w.strip().isdigit() or not a.strip().isdigit():
            raise ValueError(f"precisions: {item!r} is not wbits/abits (e.g. '4/4,2/2')")
        out.append((int(w), int(a)))
    if not out:
        raise ValueError(f"precisions: no wbits/abits pair in {text!r}")
    return out


def precision_suffix(bits: Precision) -> str:
    """``(4, 4)`` -> ``"w4a4"``: how a precision is named in bank keys and parameter names."""
    return _SUFFIX.format(*bits)


def bank_key(cfg_key: str, bits: Precision | None) -> str:
    """BN bank key of a config at a precision (``None``: the model's own bits)."""
    return cfg_key if bits is None else f"{cfg_key}-" + precision_suffix(bits)


def split_bank_key(key: str) -> tuple[tuple[int, ...], Precision | None]:
    """Inverse of :func:`bank_key`: (widths, precision or None)."""
    parts = key.split("-")
    bits = None
    if parts and parts[-1].startswith("w"):
        w, _, a = parts.pop()[1:].partition("a")
        bits = (int(w), int(a))
    return tuple(int(p) for p in parts), bits
