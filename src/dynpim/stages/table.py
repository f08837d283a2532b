"""The ``table`` stage: the operating table (schema ``dynpim.operating_table/1``) the run-time
controller chooses from, built from a trained checkpoint and a set of configs, plus the
checkpoint beside it (``<out stem>.model/``: weights and the BN statistics of every table
config, which ``DynamicRuntime`` needs).

The walk of ``dynpim table`` from the command line to the saved table (checked by
``tests/stages/test_table_walk.py``), eight files::

    cli/table.py         argparse -> TableOptions (validated once, in __post_init__) -> make_table
    stages/table.py      make_table: check --out, then the steps below, in order
    stages/run.py          open_run: the checkpoint and its own dataset split
    train/checkpoint.py      load_checkpoint (and, at the end, save_checkpoint)
    data/__init__.py         load_dataset
    search/evaluate.py     HoldoutEvaluator: validation accuracy per config (BN calibrated)
    pim/many.py            estimate_many: PIM latency, energy, power per (config, level)
    runtime/table.py       OperatingPoint / OperatingTable: Pareto set, saved as JSON

Every step is called from this file; each config is checked against the model's slots once.

The table *selects* (Pareto filter, then the controller's choices), so its accuracy is on the
validation split; test accuracies may be attached for reporting. ``hardware="measured:cpu"``
with a latency file (``dynpim latency``) builds it from measured latencies instead of the PIM
model: one point per (config, CPU thread count), the thread count in ``active_subarrays``,
energy = ``power_w`` x latency (0 unless a power is assumed; the table's ``power_model`` says
so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dynpim import pim
from dynpim.data import selection_split
from dynpim.defaults import DEFAULT_PRESET
from dynpim.errors import RunDirError
from dynpim.nn import DynamicNet, SubnetConfig
from dynpim.nn.precision import parse_precisions
from dynpim.rundir import check_output_file, read_run
from dynpim.runtime import OperatingPoint, OperatingTable
from dynpim.search import Evaluator, HoldoutEvaluator
from dynpim.search.latency import SCHEMA as LATENCY_SCHEMA
from dynpim.train import calibration_batches, save_checkpoint

from .run import OpenedRun, open_run

HARDWARE = ("pim", "measured:cpu", "measured:cuda")
Precision = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class TableOptions:
    """What ``dynpim table`` was asked for (its command-line options, one field each, in the
    order of ``dynpim table --help``). The options are checked once, here; files are read by
    :func:`make_table`."""

    checkpoint: str
    configs: str | None = None
    hardware: str = "pim"
    latency: str | None = None
    power_w: float = 0.0
    preset: str = DEFAULT_PRESET
    active_levels: list[int] | None = None
    split: str = "validation"
    no_test_accuracy: bool = False
    calib_batches: int = 50
    calib_batch_size: int = 128
    all_points: bool = False
    precisions: str = "all"
    dataset: str | None = None
    data_dir: str | None = None
    out: str
    overwrite: bool = False
    device: str = "cpu"
    selection: str = field(default="validation", init=False)  # the split, canonical

    def __post_init__(self) -> None:
        object.__setattr__(self, "selection", selection_split(self.split, option="--split"))
        if self.calib_batches < 1 or self.calib_batch_size < 1:
            raise ValueError("--calib-batches and --calib-batch-size must be >= 1")
        if self.hardware == "pim":
            if self.latency:
                raise ValueError("--latency needs --hardware measured:cpu (or measured:cuda)")
            return
        if self.hardware not in HARDWARE:
            raise ValueError(f"--hardware must be pim, measured:cpu or measured:cuda, got "
                             f"{self.hardware!r}")
        if not self.latency:
            raise ValueError(f"--hardware {self.hardware} needs --latency FILE (from dynpim "
                             f"latency)")
        if self.active_levels:
            raise ValueError("--active-levels is a PIM option; measured tables use the thread "
                             "counts of the latency file")

    def to_dict(self) -> dict[str, Any]:
        """The options as recorded in the table JSON (``run.config``)."""
        d = asdict(self)
        d.pop("selection")
        return {"debug": False, "command": "table", **d}  # as argparse's namespace held them


@dataclass
class TableResult:
    table: OperatingTable
    model_dir: str


def check_table_outputs(out: str, *, overwrite: bool) -> None:
    """Before any work (issue 20): ``out`` can be written as a file (not a directory, its
    folder writable), is no existing table unless ``overwrite``, and ``<stem>.model`` is
    nothing but a table's checkpoint."""
    check_output_file(out, overwrite=overwrite)
    model_dir = f"{os.path.splitext(out)[0]}.model"
    if os.path.exists(model_dir):
        if not os.path.isdir(model_dir) or read_run(model_dir) is not None or not (
                os.path.isfile(os.path.join(model_dir, "meta.json"))):
            raise RunDirError(f"--out {out}: {model_dir} exists and is not a table's model "
                              f"checkpoint; choose another --out")
        if not overwrite:
            raise RunDirError(f"--out {out}: {model_dir} exists; pass --overwrite to replace "
                              f"the table and its checkpoint")


def make_table(opts: TableOptions) -> TableResult:
    """The stage: build the table of ``opts``, save it and its checkpoint, return both."""
    check_table_outputs(opts.out, overwrite=opts.overwrite)
    measured = read_latency(opts.latency, opts.hardware) if opts.latency else None
    if measured is None:
        hw = pim.load_preset(opts.preset)
        levels = active_levels(hw, opts.active_levels)
    run = open_run(opts.checkpoint, dataset=opts.dataset, data_dir=opts.data_dir,
                   device=opts.device)
    model = run.model
    cfgs = _table_configs(run, opts, measured)
    evaluator, report = _evaluators(run, opts)
    model_dir = f"{os.path.splitext(opts.out)[0]}.model"
    meta = {"model": {"name": model.name, "args": model.args},
            "checkpoint": os.path.abspath(model_dir),
            "source_checkpoint": os.path.abspath(run.path)}
    if measured is not None:
        table = measured_table(model, cfgs, measured, evaluator, report, opts, meta)
    else:
        table = _build(model, cfgs, hw, evaluator, levels=levels, pareto=not opts.all_points,
                       split=opts.selection, report=report,
                       precisions=table_precisions(opts.precisions, model), meta=meta)
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    save_checkpoint(model_dir, model, configs=table.configs(),
                    extra={"train_config": run.train_config})
    table.meta["run"] = {"kind": "table", "config": opts.to_dict()}
    table.save(opts.out)
    return TableResult(table, model_dir)


def _table_configs(run: OpenedRun, opts: TableOptions, measured: dict | None
                   ) -> list[SubnetConfig]:
    """``--configs`` (or the checkpoint's); for a measured table the measured configs, which
    ``--configs``, if given, must list."""
    if measured is None:
        return run.configs(opts.configs)
    given = {c.key for c in run.configs(opts.configs)} if opts.configs else set()
    cfgs = list(dict.fromkeys(SubnetConfig(p["widths"]) for p in measured["points"]))
    missing = [c.key for c in cfgs if c.key not in given]
    if opts.configs and missing:
        raise ValueError(f"{opts.latency} measured configs not in {opts.configs}: "
                         f"{', '.join(missing[:3])}")
    if not cfgs:
        raise ValueError(f"checkpoint {run.path} stores no configs; pass --configs")
    return cfgs


def _evaluators(run: OpenedRun, opts: TableOptions
                ) -> tuple[HoldoutEvaluator, HoldoutEvaluator | None]:
    """The selecting evaluator (validation, BN statistics kept) and the reporting one (test)."""
    splits = run.splits
    x, y = splits.split(opts.selection)
    if len(y) == 0:
        raise ValueError(f"the {opts.selection} split of {run.path} is empty (trained with "
                         f"holdout 0?); retrain with a validation split")
    calib = calibration_batches(splits, batch_size=opts.calib_batch_size,
                                num_batches=opts.calib_batches)
    run.model.clear_bn_bank()
    evaluator = HoldoutEvaluator(x, y, calib, batch_size=1000, keep_stats=True)
    report = None if opts.no_test_accuracy else HoldoutEvaluator(
        splits.test_x, splits.test_y, calib, batch_size=1000)
    return evaluator, report


def table_precisions(text: str, model: DynamicNet) -> list[Precision | None]:
    """``--precisions`` as a list for :func:`build_operating_table` (``None``: the stored
    one)."""
    if text == "stored" or not model.precisions:
        if text not in ("stored", "all"):
            raise ValueError(f"--precisions {text!r}: the model has no run-time precisions "
                             f"(train with dynpim train --precisions)")
        return [None]
    if text == "all":
        return [None, *model.precisions[1:]]
    wanted = parse_precisions(text)
    for p in wanted:
        if p not in model.precisions:
            raise ValueError(f"--precisions: {p[0]}/{p[1]} is not one of the model's "
                             f"{', '.join(f'{w}/{a}' for w, a in model.precisions)}")
    return [None if p == model.stored_precision else p for p in wanted]


def read_latency(path: str, hardware: str) -> dict[str, Any]:
    """The latency measurement for ``--hardware measured:*`` (``dynpim latency``'s file)."""
    with open(path) as f:
        data = json.load(f)
    kind = hardware.split(":", 1)[1]
    if not str(data.get("device", "")).startswith(kind):
        raise ValueError(f"{path} was measured on {data.get('device')!r}, not {kind}")
    return data


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
    precisions: Sequence[Precision | None] = (None,),
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
    return _build(model, configs, hw, evaluate, levels=levels, input_size=input_size,
                  pareto=pareto, meta=meta, split=selection_split(split, option="split"),
                  report=report, precisions=precisions)


def _build(model: DynamicNet, configs: Sequence[SubnetConfig], hw: Any, evaluate: Evaluator,
           *, levels: Sequence[int], split: str, input_size: Sequence[int] | None = None,
           pareto: bool = True, meta: dict[str, Any] | None = None,
           report: Evaluator | None = None,
           precisions: Sequence[Precision | None] = (None,)) -> OperatingTable:
    """:func:`build_operating_table` with ``split`` already checked."""
    if not configs:
        raise ValueError("operating table needs at least one config")
    configs = list(dict.fromkeys(model.validate(c) for c in configs))
    size = tuple(input_size or model.input_size)
    points: list[OperatingPoint] = []
    for bits in precisions:
        with model.precision(bits):
            accs = evaluate(model, configs)
            tests: list[float | None] = list(report(model, configs)) if report else \
                [None] * len(configs)
            stored = bits is None or tuple(bits) == model.stored_precision
            for level in levels:
                points += _level_points(model, configs, hw, size, int(level), accs, tests,
                                        None if stored or bits is None else tuple(bits))
    info = {"model": model.name, "preset": getattr(hw, "name", str(hw)), "input_size": list(size),
            "active_levels": [int(v) for v in levels], **(meta or {}), "accuracy_split": split}
    if report is not None:
        info["test_accuracy_split"] = "test"
    table = OperatingTable(_drop_redundant_levels(points), info)
    return table.pareto() if pareto else table


def _level_points(model: DynamicNet, configs: list[SubnetConfig], hw: Any,
                  size: tuple[int, ...], level: int, accs: Sequence[float],
                  tests: Sequence[float | None], bits: Any) -> list[OperatingPoint]:
    """One point per config at ``level`` active sub-arrays (costs from ``estimate_many``)."""
    r = pim.estimate_many(model, configs, hw, input_size=size, active_subarrays=level)
    out = []
    for i, cfg in enumerate(configs):
        avg, peak = float(r["avg_power_w"][i]), float(r["peak_power_w"][i])
        t = tests[i]
        out.append(OperatingPoint(
            cfg, level, float(accs[i]), float(r["latency_s"][i]), float(r["energy_j"][i]),
            avg, max(avg, peak), int(np.asarray(r["macs"])[i]),
            test_accuracy=None if t is None else float(t), bits=bits))
    return out


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


def measured_table_points(latency: dict[str, Any], accuracies: dict[str, float],
                          tests: dict[str, float] | None = None, *, power_w: float = 0.0
                          ) -> list[OperatingPoint]:
    """Operating points from a ``measure_latency`` result: one per (config, thread count),
    the thread count standing in the ``active_subarrays`` field; latency = the median; energy
    = ``power_w`` x latency (``power_w`` is an assumption the caller states; 0: not modelled)."""
    if latency.get("schema") != LATENCY_SCHEMA:
        raise ValueError(f"not a latency measurement (schema {latency.get('schema')!r}, "
                         f"expected {LATENCY_SCHEMA!r})")
    if power_w < 0:
        raise ValueError(f"power must be >= 0 W, got {power_w}")
    out = []
    for p in latency["points"]:
        if p["key"] not in accuracies:
            raise ValueError(f"config {p['key']} was measured but not evaluated")
        t = float(p["median_s"])
        out.append(OperatingPoint(
            SubnetConfig(p["widths"]), int(p["threads"]), float(accuracies[p["key"]]), t,
            power_w * t, power_w, power_w, int(p["macs"]),
            label=f"{p['key']}@{p['threads']}t",
            test_accuracy=None if tests is None else tests.get(p["key"])))
    return out


def measured_table(model: DynamicNet, cfgs: list[SubnetConfig], measured: dict[str, Any],
                   evaluator: Evaluator, report: Evaluator | None, opts: TableOptions,
                   meta: dict[str, Any]) -> OperatingTable:
    """The table of a latency measurement (``--hardware measured:*``)."""
    accs = evaluator(model, cfgs)
    tests = report(model, cfgs) if report is not None else None
    acc = {c.key: a for c, a in zip(cfgs, accs)}
    test = {c.key: a for c, a in zip(cfgs, tests)} if tests is not None else None
    points = measured_table_points(measured, acc, test, power_w=opts.power_w)
    assert opts.latency is not None
    info = {"model": meta["model"], "hardware": opts.hardware,
            "preset": opts.hardware, "input_size": list(model.input_size),
            "active_levels": sorted({p.active_subarrays for p in points}),
            "level_meaning": "CPU threads" if opts.hardware == "measured:cpu" else "device",
            "latency_file": os.path.abspath(opts.latency),
            "latency_device": measured.get("device_name"), "latency_batch_size":
            measured.get("batch_size"), "latency_statistic": "median",
            "power_model": f"assumed {opts.power_w} W while computing" if opts.power_w
            else "not modelled (energy and power are 0)",
            "checkpoint": meta["checkpoint"], "source_checkpoint": meta["source_checkpoint"],
            "accuracy_split": opts.selection}
    if report is not None:
        info["test_accuracy_split"] = "test"
    table = OperatingTable(points, info)
    return table if opts.all_points else table.pareto()
