"""precision_probe_digits: a short ablation of how the joint width x precision network derives
its lower weight precisions and trains its smallest width (ResNet-20, embedded 8x8 digits).

Every arm trains ResNet-20 W8/A8 with ``--sampling discrete`` for a few epochs and is scored on
the 300 validation images held out of the training data (validation only: this probe chose the
method that ``dynpim train --precisions`` uses; no test accuracy is read). Arms:

* ``width_only``: no lower precisions (the control).
* ``floor/lowest``: floor truncation of the 8-bit codes, smallest width at the lowest setting
  only (dynpim before 2026-12-01).
* ``round/lowest``: round-to-nearest truncation, clamped to the ``w``-bit range (not the top
  bit-planes: rejected for the hardware, measured for comparison).
* ``carry/mixed``: round-to-nearest kept honest for the array: the top planes plus the next
  lower stored plane as a carry, unclamped (values in ``[-2**(w-1), 2**(w-1)]``; ``w + 1``
  planes sensed, as mid-rise), with dynpim's sandwich.
* ``midrise/lowest``: the adopted truncation with the plain two-axis sandwich.
* ``midrise/mixed``: one pass per config, the smallest width at the lowest setting on half the
  steps and at a random one otherwise (dynpim on 2026-12-01, before the pairs).
* ``midrise/mixed6``: the same with 4 random sub-nets a step (6 passes, lr scaled by 4/6).
* ``midrise/paired-sum``: dynpim's pairs with every pass at weight 1 (7 passes, lr x 4/7).
* ``midrise/paired``: dynpim's pairs (``dynpim.train.samplers.step_passes``) as adopted
  first: the largest width at 8/8, every other width twice, at 8/8 and at a lower setting,
  each at weight 1/2.
* ``width_only7``: the control with 5 random sub-nets a step (7 passes, lr x 4/7).
* ``midrise/paired+largest``: dynpim's pairs plus the largest width at a random lower setting
  (weight 1/2; 8 passes); ``midrise/paired+largest-half``: the same with the largest's stored
  pass (the teacher) at weight 1/2 too.
* ``midrise/paired-self``: dynpim's pairs, each lower pass distilled from its own width's
  stored-precision pass (``Pass.from_previous``) instead of the largest's.
* ``midrise/paired+bn``: dynpim's pairs with ``bn_per_precision`` (a BN scale and shift per
  lower precision, as Any-Precision DNNs keep a BN layer per bit-width).
* ``midrise/paired-3:1``: what dynpim does since: the pairs with the stored-precision pass at
  weight 3/4 and the lower one at 1/4 (``TrainConfig.lower_weight = 0.25``: the same gradient
  scale, more weight on the stored precision). Every other arm runs at ``lower_weight = 0.5``;
  the plans take it as the trainer passes it, and the one-pass plans ignore it.

The last five were tried after the adoption and are recorded separately: ``--arms
midrise/paired+largest,midrise/paired+largest-half,midrise/paired-self --out
benchmarks/results/precision_probe_digits_after.json``, ``--arms
midrise/paired,midrise/paired+bn --out benchmarks/results/precision_probe_digits_bn.json`` and
``--seeds 0,1,2,3,4 --arms midrise/paired,midrise/paired-3:1 --out
benchmarks/results/precision_probe_digits_weights.json``.

The non-adopted arms swap ``dynpim.quant.quantizers.truncate_codes``/``weight_codes_at`` and
the trainer's ``step_passes`` for the run, and restore them after. The gradients of a step's
passes are summed, so an arm with more passes at weight 1 runs at lr ``0.1 * 4 / passes``
(unscaled, 7 passes diverged). About 45-80 s per arm and seed on one CPU thread.

    python benchmarks/precision_probe_digits.py --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import add_provenance_args, md_table, seed_list, start_run, write_result  # noqa: E402

from dynpim.data import load_dataset  # noqa: E402
from dynpim.nn import SubnetConfig  # noqa: E402
from dynpim.quant import quantizers  # noqa: E402
from dynpim.train import TrainConfig, calibration_batches, evaluate_configs, train  # noqa: E402
from dynpim.train import trainer as trainer_module  # noqa: E402
from dynpim.train.samplers import Pass, lowest_precision, step_passes  # noqa: E402

WIDTHS = (0.25, 0.5, 0.75, 1.0)
PRECISIONS = "6/6,4/4,3/3,2/2"
ARMS = ("width_only", "floor/lowest", "round/lowest", "carry/mixed", "midrise/lowest",
        "midrise/mixed", "midrise/mixed6", "midrise/paired-sum", "midrise/paired", "width_only7",
        "midrise/paired+largest", "midrise/paired+largest-half", "midrise/paired-self",
        "midrise/paired+bn", "midrise/paired-3:1")
NUM_RANDOM = {"midrise/mixed6": 4, "width_only7": 5}  # random sub-nets per step (default 2)
# passes (forward + backward) per step: 2 + NUM_RANDOM, doubled but the largest's when paired
PASSES = {"midrise/mixed6": 6, "width_only7": 7, "midrise/paired-sum": 7}
# loss weight of a pair's lower-precision pass (TrainConfig.lower_weight); 1/2 unless named
LOWER_WEIGHT = {"midrise/paired-3:1": 0.25}
LR = 0.1  # at 4 passes a step (weights summing to 4); more passes at weight 1: LR * 4 / passes


def _floor(codes, stored_bits, active_bits):
    shift = stored_bits - active_bits
    if shift == 0:
        return codes
    x = codes / float(1 << shift)
    return x - (x - torch.floor(x)).detach()


def _round(codes, stored_bits, active_bits):
    shift = stored_bits - active_bits
    if shift == 0:
        return codes
    x = codes / float(1 << shift)
    lo, hi = -(1 << (active_bits - 1)), (1 << (active_bits - 1)) - 1
    return x - (x - torch.clamp(torch.round(x), lo, hi)).detach()


def _carry(codes, stored_bits, active_bits):
    shift = stored_bits - active_bits
    if shift == 0:
        return codes
    x = codes / float(1 << shift)
    carry = torch.remainder(torch.floor(codes / float(1 << (shift - 1))), 2)
    return x - (x - (torch.floor(x) + carry)).detach()


def _plain_codes_at(truncate):
    """``weight_codes_at`` for a truncation whose codes are at scale ``2**shift``."""
    def codes_at(w, stored_bits, active_bits):
        codes, scale = quantizers.weight_codes(w, stored_bits)
        if active_bits == stored_bits:
            return codes, scale
        return truncate(codes, stored_bits, active_bits), \
            scale * float(1 << (stored_bits - active_bits))
    return codes_at


def _any(precisions, g):
    options = [None, *precisions]
    return options[int(torch.randint(len(options), (1,), generator=g))]


def _lowest_passes(configs, precisions, g, lower_weight=0.5):
    """The plain two-axis sandwich: one pass per config, the smallest at the lowest setting."""
    if not precisions:
        return [Pass(c) for c in configs]
    bits = [None, lowest_precision(precisions)] + [_any(precisions, g) for _ in configs[2:]]
    return [Pass(c, b) for c, b in zip(configs, bits)]


def _mixed_passes(configs, precisions, g, lower_weight=0.5):
    """One pass per config; the smallest at the lowest setting on half the steps, at a random
    one (stored included) otherwise (dynpim on 2026-12-01, before the pairs)."""
    if not precisions:
        return [Pass(c) for c in configs]
    bits = [None]
    if len(configs) > 1:
        at_lowest = float(torch.rand((), generator=g, dtype=torch.float64)) < 0.5
        bits.append(lowest_precision(precisions) if at_lowest else _any(precisions, g))
    bits += [_any(precisions, g) for _ in configs[2:]]
    return [Pass(c, b) for c, b in zip(configs, bits)]


def _summed_pairs(configs, precisions, g, lower_weight=0.5):
    """dynpim's pairs with every pass at weight 1 (a step's gradient grows by about 7/4)."""
    return [Pass(p.config, p.bits) for p in step_passes(configs, precisions, g)]


def _pairs_with_largest(teacher_weight):
    """dynpim's pairs plus the largest width at a random lower setting (weight 1/2, distilled
    from the largest at the stored precision, which keeps ``teacher_weight``)."""
    def passes(configs, precisions, g, lower_weight=0.5):
        out = step_passes(configs, precisions, g, lower_weight)
        if not precisions:
            return out
        low = precisions[int(torch.randint(len(precisions), (1,), generator=g))]
        return [Pass(configs[0], None, teacher_weight), Pass(configs[0], tuple(low), 0.5),
                *out[1:]]
    return passes


def _pairs_self_distilled(configs, precisions, g, lower_weight=0.5):
    """dynpim's pairs, each lower pass distilled from its own width's stored-precision pass."""
    return [Pass(p.config, p.bits, p.weight, from_previous=p.bits is not None)
            for p in step_passes(configs, precisions, g, lower_weight)]


PLANS = {"lowest": _lowest_passes, "mixed": _mixed_passes, "mixed6": _mixed_passes,
         "paired-sum": _summed_pairs, "paired+largest": _pairs_with_largest(1.0),
         "paired+largest-half": _pairs_with_largest(0.5), "paired-self": _pairs_self_distilled}


@contextlib.contextmanager
def arm_patches(arm: str) -> Iterator[None]:
    """Swap in the arm's truncation and sandwich plan; restore dynpim's afterwards."""
    saved = (quantizers.truncate_codes, quantizers.weight_codes_at, trainer_module.step_passes)
    truncation, _, plan = arm.partition("/")
    try:
        if truncation in ("floor", "round", "carry"):
            fn = {"floor": _floor, "round": _round, "carry": _carry}[truncation]
            quantizers.truncate_codes = fn
            quantizers.weight_codes_at = _plain_codes_at(fn)
        if plan in PLANS:
            trainer_module.step_passes = PLANS[plan]
        yield
    finally:
        (quantizers.truncate_codes, quantizers.weight_codes_at,
         trainer_module.step_passes) = saved


def run_arm(arm: str, seed: int, splits, epochs: int, out: str) -> dict[str, list[float]]:
    """Validation top-1 (%) per precision (``"8/8"`` ...) at every width of ``WIDTHS``."""
    cfg = TrainConfig(model="resnet20", dataset="digits", holdout=300, wbits=8, abits=8,
                      precisions=None if arm.startswith("width_only") else PRECISIONS,
                      bn_per_precision=arm.endswith("+bn"),
                      lower_weight=LOWER_WEIGHT.get(arm, 0.5),
                      num_random=NUM_RANDOM.get(arm, 2),
                      sampling="discrete", epochs=epochs, batch_size=64,
                      lr=LR * 4 / PASSES.get(arm, 4),
                      subnet_loss="both", eval_widths=WIDTHS, seed=seed,
                      progress=False, calib_batches=5, out=out)
    with arm_patches(arm):
        model = train(cfg, splits=splits).model.eval()
        calib = calibration_batches(splits, batch_size=64, num_batches=5)
        rows = {}
        for bits in model.precisions:
            with model.precision(bits):
                cfgs = [SubnetConfig.uniform(model, w) for w in WIDTHS]
                res = evaluate_configs(model, cfgs, splits, calib, split="validation")
                rows[f"{bits[0]}/{bits[1]}"] = [r["top1_validation"] for r in res]
    return rows


def summarise(per_seed: dict[int, dict[str, dict[str, list[float]]]]) -> dict:
    """Mean and sd over seeds per (arm, precision, width)."""
    out: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    seeds = sorted(per_seed)
    for arm in per_seed[seeds[0]]:
        out[arm] = {}
        for bits in per_seed[seeds[0]][arm]:
            vals = [per_seed[s][arm][bits] for s in seeds]
            out[arm][bits] = {
                "mean": [round(statistics.fmean(v[i] for v in vals), 2)
                         for i in range(len(WIDTHS))],
                "sd": [round(statistics.stdev(v[i] for v in vals), 2) if len(vals) > 1
                       else None for i in range(len(WIDTHS))]}
    return out


def markdown(summary: dict, seeds: list[int], epochs: int) -> str:
    def cell(d: dict) -> str:
        return " / ".join(f"{m:.1f}" for m in d["mean"])
    rows = []
    for arm, by_bits in summary.items():
        rows.append([arm, cell(by_bits["8/8"]), cell(by_bits["4/4"]) if "4/4" in by_bits
                     else "—", cell(by_bits["2/2"]) if "2/2" in by_bits else "—"])
    head = (f"ResNet-20 W8/A8 on the 8x8 digits, {epochs} epochs, `--sampling discrete`, lr "
            f"0.1 (x 4 / passes for more passes at weight 1), sub-net loss `both`, lower "
            f"precisions {PRECISIONS}; validation top-1 (%) "
            f"at widths {' / '.join(map(str, WIDTHS))}, mean over seeds "
            f"{', '.join(map(str, seeds))} (per-seed values and sd in the JSON).\n\n")
    return head + md_table(["arm (truncation/plan)", "8/8", "4/4", "2/2"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--arms", default=",".join(ARMS), help=f"subset of {', '.join(ARMS)}")
    ap.add_argument("--out", help="result path (default: benchmarks/results/"
                    "precision_probe_digits.json)")
    add_provenance_args(ap)
    a = ap.parse_args()
    arms = [s.strip() for s in a.arms.split(",") if s.strip()]
    bad = [x for x in arms if x not in ARMS]
    if bad:
        ap.error(f"unknown arm(s) {bad}; choose from {', '.join(ARMS)}")
    start_run(a.allow_dirty)
    torch.set_num_threads(1)
    splits = load_dataset("digits", holdout=300)
    per_seed: dict[int, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in a.seeds:
            per_seed[seed] = {}
            for arm in arms:
                per_seed[seed][arm] = run_arm(arm, seed, splits, a.epochs,
                                              os.path.join(tmp, f"{seed}-{arm.replace('/', '-')}"))
                print(f"seed {seed} {arm}: " + "; ".join(
                    f"{b} {v}" for b, v in per_seed[seed][arm].items()), flush=True)
    summary = summarise(per_seed)
    md = markdown(summary, a.seeds, a.epochs)
    path = write_result("precision_probe_digits", {
        "per_seed": {str(s): v for s, v in per_seed.items()}, "summary": summary,
        "widths": list(WIDTHS), "epochs": a.epochs, "seeds": a.seeds,
        "accuracy_split": {"selection": "validation (300 training images held out)",
                           "reported": "validation only; no test accuracy is read"}},
        markdown=md, path=a.out)
    print(md)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
