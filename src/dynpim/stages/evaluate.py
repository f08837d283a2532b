"""The ``evaluate`` stage (``dynpim eval``): BN calibrated per sub-net on training data (or the
checkpoint's banked statistics), top-1 on one split, MACs and parameters; optionally each
config executed on the bit-wise PIM engine. Data comes from :func:`~dynpim.stages.open_run`;
rows go to ``<out>.json`` / ``<out>.csv`` and back to the caller, which prints them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dynpim.defaults import DEFAULT_PRESET
from dynpim.nn import SubnetConfig
from dynpim.quant import exact_float32
from dynpim.rundir import check_output_file
from dynpim.train import calibration_batches, evaluate_configs, resolve_checkpoint, store_bn_bank
from dynpim.train import write_table as write_rows

from .run import open_run, set_threads


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """What ``dynpim eval`` was asked for (checked here, once)."""

    checkpoint: str
    widths: tuple[float, ...] | None = None
    configs: str | None = None
    dataset: str | None = None
    data_dir: str | None = None
    split: str = "test"
    calib_batches: int = 50
    batch_size: int = 128
    use_bank: bool = False
    no_store: bool = False
    out: str | None = None
    device: str = "cpu"
    threads: int | None = None
    pim: bool = False
    preset: str = DEFAULT_PRESET
    flip_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.calib_batches < 1 or self.batch_size < 1:
            raise ValueError("--calib-batches and --batch-size must be >= 1")


@dataclass
class EvalResult:
    """What the stage measured and wrote, for the front-end to print."""

    model: Any
    dataset: str
    rows: list[dict[str, Any]]
    pim_rows: list[dict[str, Any]] | None = None
    stored: str | None = None           # where the BN statistics were stored
    store_error: str | None = None      # why they could not be
    written: tuple[str, str] = ("", "")
    checkpoint: str = ""


def evaluate(opts: EvalOptions) -> EvalResult:
    """The stage: evaluate, store the calibrated BN statistics (unless ``no_store``), write
    the table."""
    set_threads(opts.threads)
    stem = opts.out or os.path.join(resolve_checkpoint(opts.checkpoint), "eval")
    for ext in (".json", ".csv"):  # before the evaluation, not after it
        check_output_file(stem + ext)
    run = open_run(opts.checkpoint, dataset=opts.dataset, data_dir=opts.data_dir,
                   device=opts.device)
    model = run.model
    if opts.widths:
        cfgs = [SubnetConfig.uniform(model, w) for w in opts.widths]
    else:
        cfgs = run.configs(opts.configs, hint="use --widths/--configs")
    calib = None if opts.use_bank else calibration_batches(
        run.splits, batch_size=opts.batch_size, num_batches=opts.calib_batches)
    with exact_float32():  # on a GPU: no TF32, so fake-quant is comparable with the integers
        rows = evaluate_configs(model, list(dict.fromkeys(cfgs)), run.splits, calib,
                                split=opts.split, batch_size=max(opts.batch_size, 256))
    res = EvalResult(model, run.dataset, rows, checkpoint=run.path)
    if calib is not None and not opts.no_store:
        try:
            res.stored = store_bn_bank(run.path, model)
        except OSError as e:
            res.store_error = str(e)
    if opts.pim:
        res.pim_rows = _pim_rows(opts, model, rows, run.splits)
        rows = [{**r, **p} for r, p in zip(rows, res.pim_rows)]
    res.written = write_rows(rows, stem)
    return res


def _pim_rows(opts: EvalOptions, model: Any, rows: list[dict[str, Any]], splits: Any
              ) -> list[dict[str, Any]]:
    """Every evaluated config executed on the bit-wise PIM engine."""
    from dynpim.pim import load_preset
    from dynpim.pim.execute import evaluate_pim

    x, y = splits.split(opts.split)
    with exact_float32():
        return evaluate_pim(model, [SubnetConfig([int(w) for w in r["widths"]]) for r in rows],
                            x, y, load_preset(opts.preset), flip_prob=opts.flip_prob,
                            generator=0)
