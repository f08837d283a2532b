"""Whole-network execution of a quantized sub-net on the functional bit-wise PIM engine.

Runs the integer program of :func:`dynpim.quant.quantized_subnet` with every conv/linear
computed on bit-planes (AND + popcount + shift-add): by the vectorised torch form of that dataflow
(:func:`bitplane_conv2d`, batch on CPU or GPU) or by the packed-word engine
:func:`dynpim.pim.engine.bitwise_conv2d`
and everything else (input quantization, fixed-point requantization with the folded BN, ReLU
clamp, residual additions, pooling) in the integer arithmetic of ``run_program``. Without sensing
errors the logits equal :func:`dynpim.quant.integer_forward` bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor

from dynpim.nn import DynamicNet, SubnetConfig
from dynpim.quant import QuantizedSubnet, quantized_subnet, run_program

from .bits import model_bits
from .dataflow import DEFAULT_MAPPING, check_mapping, map_model
from .engine import bitwise_conv2d, bitwise_linear
from .hardware import Hardware
from .presets import load_preset

BACKENDS = ("torch", "numpy")


def _torch_generator(generator, device: torch.device) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int):
        return torch.Generator(device=device).manual_seed(generator)
    raise ValueError("the torch backend takes a torch.Generator or an int seed as generator")


def _flip(pc: Tensor, k: int, p: float, gen: torch.Generator | None) -> Tensor:
    """Sensing errors on popcounts of ``k`` AND bits: ones lost ~ Bin(pc, p), gained ~
    Bin(k - pc, p) (the sum over a layer's sensed segments of the per-segment laws)."""
    prob = torch.full_like(pc, p)
    return pc - torch.binomial(pc, prob, generator=gen) + torch.binomial(k - pc, prob,
                                                                        generator=gen)


def _coefs(abits: int, wbits: int, device) -> Tensor:
    """Shift-add weights ``s_j * 2**(i+j)`` (sign plane j = wbits-1 negative), (abits, wbits)."""
    i = torch.arange(abits, dtype=torch.float64, device=device)[:, None]
    j = torch.arange(wbits, dtype=torch.float64, device=device)[None, :]
    sign = torch.where(j == wbits - 1, -1.0, 1.0)
    return sign * torch.pow(2.0, i + j)


def _wplanes(w: Tensor, wbits: int, device) -> Tensor:
    """(wbits, *w.shape) 0/1 float planes of the two's-complement bit pattern of ``w``."""
    wu = w.to(device=device, dtype=torch.int64) & ((1 << wbits) - 1)
    return torch.stack([((wu >> j) & 1) for j in range(wbits)]).float()


def bitplane_conv2d(x_int: Tensor, w_int: Tensor, abits: int, wbits: int, stride=1,
                    padding=0, groups: int = 1, flip_prob: float = 0.0,
                    generator: torch.Generator | None = None) -> Tensor:
    """Vectorised torch form of the engine's dataflow: for every activation plane ``i`` and
    weight plane ``j``, ``popcount(x_i AND w_j)`` over each receptive field is a convolution of
    0/1 planes (exact in float32: counts < 2**24), then shift-added with the sign plane negative.
    Equal to :func:`dynpim.pim.engine.bitwise_conv2d` (tested); runs on ``x_int``'s device."""
    dev = x_int.device
    m, cg, kh, kw = w_int.shape
    mg = m // groups
    # weights for one activation plane: per group g, wbits*Mg output channels ordered (j, m)
    wp = _wplanes(w_int, wbits, dev).view(wbits, groups, mg, cg, kh, kw)
    wp = wp.transpose(0, 1).reshape(groups * wbits * mg, cg, kh, kw)
    coef = _coefs(abits, wbits, dev)
    x = x_int.to(torch.int64)
    acc = None
    for i in range(abits):
        xi = ((x >> i) & 1).float()
        # exact counts; round() guards against non-exact conv algorithms (FFT/Winograd)
        pc = torch.nn.functional.conv2d(xi, wp, None, stride, padding, 1, groups).round()
        if flip_prob > 0:
            pc = _flip(pc, cg * kh * kw, flip_prob, generator)
        n, _, ho, wo = pc.shape
        pc = pc.view(n, groups, wbits, mg, ho, wo).double()
        term = torch.einsum("ngjmhw,j->ngmhw", pc, coef[i])
        acc = term if acc is None else acc + term
    if acc is None:
        raise ValueError(f"abits must be >= 1, got {abits}")
    return acc.reshape(x.shape[0], m, *acc.shape[-2:]).round().to(torch.int64)


def bitplane_linear(x_int: Tensor, w_int: Tensor, abits: int, wbits: int,
                    flip_prob: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """Linear layer ``(B, K) x (M, K) -> (B, M)`` through the same bit-plane dataflow."""
    out = bitplane_conv2d(x_int[:, :, None, None], w_int[:, :, None, None], abits, wbits,
                          flip_prob=flip_prob, generator=generator)
    return out[:, :, 0, 0]


def placements(model: DynamicNet, hw: Hardware, input_size: Sequence[int],
               mapping: str = DEFAULT_MAPPING) -> dict[str, dict]:
    """Per layer name: the cost model's placement (sub-arrays per tile, pixels per row) and
    output bits, as keyword arguments of :func:`dynpim.pim.engine.bitwise_conv2d`."""
    table = model.layer_table(input_size)
    bits = model_bits(model, table, hw)
    mp = map_model(table, hw, bits.placed_wbits, mapping)
    return {s.name: {"hw": hw, "mapping": mapping,
                     "subarrays_per_tile": int(mp.subarrays_per_tile[j]),
                     "pixels_per_row": int(mp.pixels_per_row[j]),
                     "out_bits": int(bits.out_bits[j])} for j, s in enumerate(table)}


def _conv(q, w, abits, wbits, stride, padding, groups, **kw) -> Tensor:
    return bitwise_conv2d(q.cpu(), w, abits, wbits, stride, padding, groups, **kw)


def _linear(q, w, abits, wbits, **kw) -> Tensor:
    return bitwise_linear(q.cpu(), w, abits, wbits, **kw)


def execute(model: DynamicNet, cfg: SubnetConfig | Sequence[int] | None, x: Tensor,
            hw: Hardware | None = None, flip_prob: float = 0.0, generator=None, *,
            batch_size: int = 256, backend: str = "torch",
            qs: QuantizedSubnet | None = None, mapping: str = DEFAULT_MAPPING) -> Tensor:
    """Logits (float64) of sub-net ``cfg`` for inputs ``x``, every conv/linear run through the
    bit-plane AND/popcount/shift-add dataflow.

    ``backend="torch"`` (default) uses :func:`bitplane_conv2d` on ``x``'s device (GPU if ``x``
    is there); ``backend="numpy"`` uses the packed-word engine
    :func:`dynpim.pim.engine.bitwise_conv2d` (CPU, slower, counts operations). Both give the
    same integers. The numpy engine runs every layer on the cost model's placement of ``model``
    on ``hw`` (default: the default preset) with ``mapping``; ``flip_prob`` flips each sensed
    AND output bit with that probability (``generator``: a generator or an int seed, for
    reproducibility). Inputs are processed in
    chunks of ``batch_size`` images; pass a precompiled ``qs`` to skip the export.
    """
    if not 0.0 <= float(flip_prob) <= 1.0:
        raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    x = x.detach()
    with torch.no_grad():
        qs = qs or quantized_subnet(model, cfg, input_size=tuple(x.shape[1:]))
        per_layer = None
        if backend == "numpy":
            x = x.cpu()
            kw = {"flip_prob": float(flip_prob), "generator": generator}
            conv, linear = partial(_conv, **kw), partial(_linear, **kw)
            per_layer = placements(model, hw or load_preset(), tuple(x.shape[1:]),
                                   check_mapping(mapping))
        else:
            gen = _torch_generator(generator, x.device)
            kw = {"flip_prob": float(flip_prob), "generator": gen}
            conv, linear = partial(bitplane_conv2d, **kw), partial(bitplane_linear, **kw)
        outs = [run_program(qs, xb, conv, linear, per_layer) for xb in x.split(batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, dtype=torch.float64)


def evaluate_pim(model: DynamicNet, configs: Sequence[SubnetConfig], x: Tensor, y: Tensor,
                 hw: Hardware, *, flip_prob: float = 0.0, generator=None,
                 batch_size: int = 500) -> list[dict]:
    """Per config (BN already calibrated): PIM-executed top-1 (%), fake-quant top-1 and the
    prediction agreement, next to the cost-model latency/energy/power of one inference."""
    from .cost import estimate

    rows = []
    for cfg in configs:
        cfg = model.validate(cfg)
        was = model.training
        model.eval()
        with torch.no_grad(), model.subnet(cfg):
            fq = torch.cat([model(xb) for xb in x.split(batch_size)]).argmax(1).cpu()
        model.train(was)
        logits = execute(model, cfg, x, hw, flip_prob, generator, batch_size=batch_size)
        pred, yc = logits.argmax(1).cpu(), y.cpu()
        r = estimate(model, cfg, hw, input_size=tuple(x.shape[1:]))
        rows.append({"config": cfg.key, "top1_fake_quant": round(100 * float((fq == yc).float()
                     .mean()), 3), "top1_pim": round(100 * float((pred == yc).float().mean()), 3),
                     "agreement_pct": round(100 * float((pred == fq).float().mean()), 3),
                     "flip_prob": float(flip_prob), "latency_s": r.latency_s,
                     "energy_j": r.energy_j, "avg_power_w": r.avg_power_w})
    return rows


def format_pim_table(rows: Sequence[dict]) -> str:
    """Markdown table of :func:`evaluate_pim` rows."""
    out = ["| config | fake-quant top-1 (%) | PIM top-1 (%) | agreement (%) | latency (us) | "
           "energy (uJ) | avg power (mW) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['config']} | {r['top1_fake_quant']:.2f} | {r['top1_pim']:.2f} | "
                   f"{r['agreement_pct']:.2f} | {r['latency_s'] * 1e6:.2f} | "
                   f"{r['energy_j'] * 1e6:.3f} | {r['avg_power_w'] * 1e3:.2f} |")
    return "\n".join(out)
