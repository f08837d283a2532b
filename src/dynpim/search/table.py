"""Build the operating table the run-time controller chooses from: every chosen config's
validation accuracy (BN calibrated for it) times a set of active-sub-array levels, with modelled
PIM latency, energy, average and peak power, reduced to the Pareto set over (accuracy, latency,
power, energy). The table selects, so it is built on validation only (asking for test raises);
test accuracies may be attached for reporting. Written with ``dynpim.runtime.OperatingTable``
(schema ``dynpim.operating_table/1``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dynpim.data import selection_split
from dynpim.nn import DynamicNet, SubnetConfig
from dynpim.runtime import OperatingPoint, OperatingTable

from .evaluate import Evaluator


def active_levels(hw: Any, levels: Sequence[int] | None = None, *, count: int = 5,
                  factor: int = 4) -> list[int]:
    """Active computational sub-array counts to tabulate: ``levels`` checked against the chip,
    or ``count`` levels dividing all of them by ``factor`` each time (all, 1/4, 1/16, ...):
    small networks only feel the power knob at small counts."""
    total = int(hw.architecture.subarrays)
    if levels:
        out = sorted({int(v) for v in levels})
        bad = [v for v in out if not 1 <= v <= total]
        if bad:
            raise ValueError(f"active sub-array levels must be in 1..{total} for {hw.name}, "
                             f"got {bad}")
        return out
    if count < 1 or factor < 2:
        raise ValueError(f"need count >= 1 and factor >= 2 for active sub-array levels, got "
                         f"{count}, {factor}")
    return sorted({max(1, total // factor**i) for i in range(count)})


def build_operating_table(
    model: DynamicNet,
    configs: Sequence[SubnetConfig],
    hw: Any,
    evaluate: Evaluator,
    *,
    levels: Sequence[int],
    input_size: Sequence[int] | None = None,
    pareto: bool = True,
    meta: dict[str, Any] | None = None,
    split: str = "validation",
    report: Evaluator | None = None,
    precisions: Sequence[tuple[int, int] | None] = (None,),
) -> OperatingTable:
    """Evaluate ``configs`` once with ``evaluate`` (which must read the ``split`` named here;
    only "validation" is accepted, since the table selects; it leaves the BN statistics banked
    when built with ``keep_stats=True``), cost every (config, level) pair with
    ``pim.estimate_many`` and return the table (its Pareto set unless ``pareto=False``). A level
    whose modelled numbers equal those of a level with fewer active sub-arrays for the same
    config adds nothing and is dropped (fewer powered sub-arrays, same figures).

    ``report``: an evaluator on the test split; its accuracies are attached to the points as
    ``test_accuracy`` (reporting only; they play no part in the Pareto filter).

    ``precisions``: run-time precisions ``(wbits, abits)`` of the model to include (``None``:
    the stored one); every (config, precision, level) is evaluated and costed, and the Pareto
    filter works over the joint space."""
    from dynpim import pim

    split = selection_split(split, option="split")
    if not configs:
        raise ValueError("operating table needs at least one config")
    configs = list(dict.fromkeys(model.validate(c) for c in configs))
    size = tuple(input_size or model.input_size)
    points = []
    for bits in precisions:
        with model.precision(bits):
            accs = evaluate(model, configs)
            tests: list[float | None] = list(report(model, configs)) if report else \
                [None] * len(configs)
            stored = bits is None or tuple(bits) == model.stored_precision
            for level in levels:
                r = pim.estimate_many(model, configs, hw, input_size=size,
                                      active_subarrays=int(level))
                for i, cfg in enumerate(configs):
                    avg, peak = float(r["avg_power_w"][i]), float(r["peak_power_w"][i])
                    points.append(OperatingPoint(
                        cfg, int(level), float(accs[i]), float(r["latency_s"][i]),
                        float(r["energy_j"][i]), avg, max(avg, peak),
                        int(np.asarray(r["macs"])[i]),
                        test_accuracy=None if tests[i] is None else float(tests[i]),
                        bits=None if stored else tuple(bits)))  # type: ignore[arg-type]
    info = {"model": model.name, "preset": getattr(hw, "name", str(hw)), "input_size": list(size),
            "active_levels": [int(v) for v in levels], **(meta or {}), "accuracy_split": split}
    if report is not None:
        info["test_accuracy_split"] = "test"
    table = OperatingTable(_drop_redundant_levels(points), info)
    return table.pareto() if pareto else table


def _drop_redundant_levels(points: list[OperatingPoint]) -> list[OperatingPoint]:
    seen: set[tuple] = set()
    out = []
    for p in sorted(points, key=lambda p: (p.config.key, p.bits or (99, 99), p.active_subarrays)):
        sig = (p.config.key, p.bits, p.latency_s, p.energy_j, p.avg_power_w, p.peak_power_w)
        if sig not in seen:
            seen.add(sig)
            out.append(p)
    order = {p.key: i for i, p in enumerate(points)}
    return sorted(out, key=lambda p: order[p.key])
