"""The main job end to end: train a dynamic network (uniform), search non-uniform sub-nets,
retrain with them, quantize, cost every sub-net on the SOT-MRAM PIM model, build the operating
table, simulate run-time tuning on a changing power cap, and write the report.

Every stage writes its files into the run directory and is skipped when they are there, so an
interrupted demo resumes where it stopped (training stages resume from their checkpoints). The
seconds each stage spent, over every attempt, are kept in ``stage_times.json``, so a resumed run
reports the time of all its stages.

Splits: search, the operating table and the controller (and so the best static point) select on
the validation split carved from the training data; every accuracy in the headline is on the
test split and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from dynpim import pim
from dynpim.data import DatasetSplits, load_dataset
from dynpim.defaults import DEFAULT_PRESET
from dynpim.nn import DynamicNet, SubnetConfig, load_configs, save_configs
from dynpim.quant import exact_float32
from dynpim.runtime import OperatingTable
from dynpim.search import HoldoutEvaluator
from dynpim.stages import build_operating_table
from dynpim.stages.runtime import compare_runtime
from dynpim.stages.search import QuickSearchOptions, quick_search
from dynpim.stages.train import QuantizeOptions, quantize
from dynpim.train import TrainConfig, calibration_batches, evaluate_configs, load_checkpoint, train

UNIFORM_WIDTHS = (0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)


@dataclass(frozen=True)
class DemoOptions:
    """Everything that shapes a demo run (stored in ``RUN_DIR/demo.json``)."""

    out: str = "runs/demo"
    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "resnet20"
    epochs: int | None = None       # None: 20 on digits, 15 on fashion-mnist (quick: 2 / 1)
    qat_epochs: int | None = None   # quantization-aware fine-tuning epochs (None: epochs // 3)
    bits: int = 8                   # weight and activation bits on the accelerator
    precisions: str | None = None   # lower run-time precisions trained jointly, e.g. "4/4,2/2"
    preset: str = DEFAULT_PRESET
    configs_kept: int = 6           # non-uniform configs kept after filtering the search
    seed: int = 0
    quick: bool = False
    device: str = "cpu"

    def resolved_epochs(self) -> int:
        if self.epochs is not None:
            return self.epochs
        full = {"digits": 20, "fashion-mnist": 15}.get(self.dataset, 15)
        return max(1, full // 10) if self.quick else full


Log = Callable[[str], None]


class Demo:
    """Runs the stages in order; each stage's result lives in the run directory."""

    def __init__(self, opts: DemoOptions, log: Log = print) -> None:
        self.opts, self.log = opts, log
        self.run = Path(opts.out)
        self.run.mkdir(parents=True, exist_ok=True)
        saved = self.run / "demo.json"
        mine = asdict(opts)
        if saved.exists():
            old = json.loads(saved.read_text())
            diff = sorted(k for k in mine if k != "out" and old.get(k) != mine[k])
            if diff:
                raise ValueError(f"{self.run} holds a demo run with other options ({diff}); "
                                 f"use another --out or delete it")
        saved.write_text(json.dumps(mine, indent=1))
        self.hw = pim.load_preset(opts.preset)
        self._splits: DatasetSplits | None = None

    # -- stage times -----------------------------------------------------------------------------
    def stage_times(self) -> dict[str, float]:
        """Seconds spent in each stage so far, summed over every attempt (``stage_times.json``)."""
        path = self.run / "stage_times.json"
        return {k: float(v) for k, v in json.loads(path.read_text()).items()} \
            if path.exists() else {}

    @contextmanager
    def _timed(self, stage: str, *, accumulate: bool = True) -> Iterator[None]:
        """Add the seconds the block takes (even when it fails) to ``stage`` in
        ``stage_times.json``; a skipped stage adds nothing, so resumed runs keep earlier time.
        ``accumulate=False`` (stages redone on every run): keep only the latest attempt."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            times = self.stage_times()
            times[stage] = (times.get(stage, 0.0) if accumulate else 0.0) \
                + time.perf_counter() - t0
            path = self.run / "stage_times.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(times, indent=1))
            tmp.replace(path)

    @property
    def splits(self) -> DatasetSplits:
        if self._splits is None:
            self._splits = load_dataset(self.opts.dataset, data_dir=self.opts.data_dir,
                                        split_seed=self.opts.seed)
        return self._splits

    # -- training stages -------------------------------------------------------------------------
    def _config(self, name: str, **changes: Any) -> TrainConfig:
        """The float training run ``name`` of this demo (dynamic, sandwich rule)."""
        o = self.opts
        cfg = TrainConfig(model=o.model, dataset=o.dataset, data_dir=o.data_dir,
                          mode="dynamic", epochs=o.resolved_epochs(),
                          batch_size=64 if o.dataset == "digits" else 128, lr=0.1,
                          warmup_epochs=1.0 if o.resolved_epochs() > 2 else 0.0,
                          seed=o.seed, split_seed=o.seed, out=str(self.run / name),
                          device=o.device, eval_widths=(0.25, 0.5, 0.75, 1.0))
        return replace(cfg, **changes)

    def _train(self, name: str, cfg: TrainConfig, quantized: QuantizeOptions | None = None
               ) -> DynamicNet:
        """Train ``cfg`` (or, given ``quantized``, its quantization-aware fine-tuning) into
        ``RUN_DIR/name`` unless done; resumes an interrupted run."""
        out = self.run / name
        done = out / "DONE"
        if not done.exists():
            shown = quantized.config() if quantized is not None else cfg
            self.log(f"[{name}] training {shown.model} on {shown.dataset}: {shown.epochs} "
                     f"epochs, sampling {shown.sampling}")
            resume = (out / "checkpoint").exists()
            with self._timed(name):
                if quantized is not None:
                    quantize(quantized, splits=self.splits, resume=resume)
                else:
                    train(cfg, splits=self.splits, resume=resume)
            done.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        else:
            self.log(f"[{name}] already trained ({out}), skipped")
        return load_checkpoint(str(out / "checkpoint")).model.eval()

    def _quantized(self, name: str, float_run: str, cfg: TrainConfig) -> DynamicNet:
        """The quantization-aware fine-tuning of ``float_run`` at the demo's bits."""
        o = self.opts
        epochs = o.qat_epochs if o.qat_epochs is not None else max(1, o.resolved_epochs() // 3)
        q = QuantizeOptions(base=cfg, init_from=str(self.run / float_run / "checkpoint"),
                            out=str(self.run / name), bits=o.bits, epochs=epochs, lr=0.01,
                            precisions=o.precisions)
        return self._train(name, cfg, q)

    def search(self, model: DynamicNet) -> list[SubnetConfig]:
        """Progressive greedy search on the validation split; keep a Pareto subset."""
        chosen = self.run / "search" / "chosen.json"
        if chosen.exists():
            self.log(f"[search] already done ({chosen}), skipped")
            return load_configs(str(chosen))
        chosen.parent.mkdir(exist_ok=True)
        with self._timed("search"):
            steps, configs = quick_search(model, self.splits, self.hw, QuickSearchOptions(
                trajectory=str(chosen.parent / "trajectory.jsonl"), keep=self.opts.configs_kept,
                seed=self.opts.seed, meta={"checkpoint": "uniform",
                                           "accuracy_split": "validation"}), log=self.log)
        save_configs(str(chosen), configs)
        self.log(f"[search] {len(steps) - 1} steps; kept {len(configs)} configs")
        return configs

    # -- evaluation and cost ---------------------------------------------------------------------
    def _accuracy(self, model: DynamicNet, configs: list[SubnetConfig]) -> list[float]:
        s = self.splits
        calib = calibration_batches(s, batch_size=64, num_batches=8, seed=self.opts.seed)
        rows = evaluate_configs(model, configs, s, calib, split="test")
        by_key = {r["config"]: r["top1_test"] / 100.0 for r in rows}
        return [by_key[c.key] for c in configs]

    def evaluate(self, families: dict[str, tuple[DynamicNet, DynamicNet,
                                                 list[SubnetConfig]]]) -> dict[str, Any]:
        path = self.run / "evaluation.json"
        if path.exists():
            return json.loads(path.read_text())
        with self._timed("evaluate"):
            data = self._evaluate(families)
        path.write_text(json.dumps(data, indent=1))
        return data

    def _evaluate(self, families: dict[str, tuple[DynamicNet, DynamicNet,
                                                  list[SubnetConfig]]]) -> dict[str, Any]:
        points = []
        size = self.splits.input_size
        # Every sub-array powered: on the default (IoT-sized) chip sub-arrays are time-shared by
        # several channels, so latency follows the width (docs/pim-model.md section 2).
        level = int(self.hw.architecture.subarrays)
        for fam, (model, qmodel, configs) in families.items():
            self.log(f"[evaluate] {fam}: {len(configs)} sub-nets, float and "
                     f"{self.opts.bits}-bit, test split")
            with exact_float32():  # on a GPU: no TF32 in the fake-quant evaluation
                acc = self._accuracy(model, configs)
                qacc = self._accuracy(qmodel, configs)
            cost = pim.estimate_many(qmodel, configs, self.hw, input_size=size,
                                     active_subarrays=level)
            for i, cfg in enumerate(configs):
                points.append({
                    "family": fam, "label": f"{fam[0]}{i}", "config": cfg.to_dict(),
                    "accuracy": acc[i], "accuracy_quantized": qacc[i],
                    "macs": int(model.macs(cfg, size)), "params": int(model.params(cfg)),
                    "energy_j": float(cost["energy_j"][i]),
                    "latency_s": float(cost["latency_s"][i]),
                    "avg_power_w": float(cost["avg_power_w"][i])})
        out = {"split": "test", "accuracy_split": "test", "bits": self.opts.bits,
               "preset": self.opts.preset, "active_subarrays": level, "points": points}
        _, q_uniform, uniform_cfgs = families["uniform"]
        if len(q_uniform.precisions) > 1:
            out["precision_grid"] = self._precision_grid(q_uniform, uniform_cfgs, level)
        return out

    def _precision_grid(self, qmodel: DynamicNet, configs: list[SubnetConfig],
                        level: int) -> list[dict[str, Any]]:
        """Test accuracy and PIM cost of every (uniform width, run-time precision) of the
        jointly trained network: the two knobs side by side (reporting only, test split)."""
        size, grid = self.splits.input_size, []
        for bits in qmodel.precisions:
            self.log(f"[evaluate] uniform at W{bits[0]}/A{bits[1]}: {len(configs)} widths, "
                     f"test split")
            with qmodel.precision(bits), exact_float32():
                acc = self._accuracy(qmodel, configs)
                cost = pim.estimate_many(qmodel, configs, self.hw, input_size=size,
                                         active_subarrays=level)
            for i, cfg in enumerate(configs):
                grid.append({"bits": list(bits), "width": round(cfg.ratio(qmodel.slots), 3),
                             "accuracy_quantized": acc[i],
                             "energy_j": float(cost["energy_j"][i]),
                             "latency_s": float(cost["latency_s"][i])})
        return grid

    def pim_details(self, qmodel: DynamicNet, configs: list[SubnetConfig]) -> None:
        """Per-layer breakdown of the largest and smallest sub-net, and the knob sweep."""
        with self._timed("pim_details", accumulate=False):
            self._pim_details(qmodel, configs)

    def _pim_details(self, qmodel: DynamicNet, configs: list[SubnetConfig]) -> None:
        size = self.splits.input_size
        ends = {"largest": max(configs, key=qmodel.macs), "smallest": min(configs, key=qmodel.macs)}
        layers = {}
        for label, cfg in ends.items():
            r = pim.estimate(qmodel, cfg, self.hw, input_size=size)
            layers[f"{label} ({r.macs / 1e6:.2f} M MACs)"] = {
                "config": cfg.to_dict(), "energy_j": r.energy_j, "latency_s": r.latency_s,
                "layers": [{"name": lay.name, "latency_s": lay.latency_s,
                            "energy_j": lay.energy_breakdown_j} for lay in r.layers]}
        (self.run / "pim_layers.json").write_text(json.dumps(layers, indent=1))
        total = int(self.hw.architecture.subarrays)
        levels = sorted({max(1, total >> i) for i in range(0, 12, 2)})
        knob = []
        for label, cfg in ends.items():
            for level in levels:
                r = pim.estimate(qmodel, cfg, self.hw, input_size=size, active_subarrays=level)
                knob.append({"label": label, "active_subarrays": level,
                             "latency_s": r.latency_s, "avg_power_w": r.avg_power_w,
                             "energy_j": r.energy_j})
        (self.run / "knob.json").write_text(json.dumps({"points": knob}, indent=1))

    def table(self, qmodel: DynamicNet, configs: list[SubnetConfig]) -> OperatingTable:
        """The operating table: validation accuracy (selects), test accuracy (reported)."""
        path = self.run / "table.json"
        if path.exists():
            old = OperatingTable.load(str(path))
            if old.test_accuracies() is not None:
                return old
            self.log(f"[table] {path} predates test accuracies per point; rebuilt")
            (self.run / "runtime.json").unlink(missing_ok=True)
        with self._timed("table"):
            s = self.splits
            calib = calibration_batches(s, batch_size=64, num_batches=8, seed=self.opts.seed)
            evaluator = HoldoutEvaluator(s.validation_x, s.validation_y, calib, keep_stats=True)
            report = HoldoutEvaluator(s.test_x, s.test_y, calib)
            total = int(self.hw.architecture.subarrays)
            levels = sorted({max(1, total >> i) for i in range(0, 10, 3)})
            table = build_operating_table(qmodel, configs, self.hw, evaluator, levels=levels,
                                          input_size=s.input_size, split="validation",
                                          report=report, precisions=self._precisions(qmodel))
            table.save(str(path))
        self.log(f"[table] {len(table)} Pareto-optimal operating points -> {path}")
        return table

    @staticmethod
    def _precisions(qmodel: DynamicNet) -> list[tuple[int, int] | None]:
        """The stored precision (``None``) and every run-time one the model was trained for."""
        return [None, *qmodel.precisions[1:]]

    def runtime(self, table: OperatingTable) -> dict[str, Any]:
        """Simulate the budget controller on a ramp-down then random-walk power cap
        (:func:`dynpim.stages.runtime.compare_runtime`)."""
        path = self.run / "runtime.json"
        if path.exists():
            return json.loads(path.read_text())
        with self._timed("runtime"):
            data = compare_runtime(table, seed=self.opts.seed)
        path.write_text(json.dumps(data, indent=1, default=float))
        return data

    # -- all -------------------------------------------------------------------------------------
    def run_all(self) -> dict[str, Any]:
        chosen_path = str(self.run / "search" / "chosen.json")
        uniform_cfg = self._config("uniform", sampling="uniform")
        uniform = self._train("uniform", uniform_cfg)
        chosen = self.search(uniform)
        nonuniform_cfg = self._config("nonuniform", sampling="nonuniform", configs=chosen_path)
        nonuniform = self._train("nonuniform", nonuniform_cfg)
        q_uniform = self._quantized("uniform-q", "uniform", uniform_cfg)
        q_nonuniform = self._quantized("nonuniform-q", "nonuniform", nonuniform_cfg)
        uniform_cfgs = list(dict.fromkeys(SubnetConfig.uniform(uniform, w)
                                          for w in UNIFORM_WIDTHS))
        ev = self.evaluate({"uniform": (uniform, q_uniform, uniform_cfgs),
                            "nonuniform": (nonuniform, q_nonuniform, chosen)})
        self.pim_details(q_nonuniform, chosen)
        table = self.table(q_nonuniform, chosen)
        rt = self.runtime(table)
        # the report is rendered from the summary, so its own time cannot be in it
        summary = self._summary(ev, table, rt,
                                {k: v for k, v in self.stage_times().items() if k != "report"})
        # the report reads summary.json for its first section: write it before rendering
        (self.run / "summary.json").write_text(json.dumps(summary, indent=1))
        from dynpim.report import render_report

        with self._timed("report", accumulate=False):
            summary["report"] = str(render_report(self.run))
        (self.run / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary

    def _summary(self, ev: dict[str, Any], table: OperatingTable, rt: dict[str, Any],
                 stage_s: dict[str, float]) -> dict[str, Any]:
        """Headline numbers: every accuracy on the test split, labelled (the table, controller
        and best static point selected on validation); times summed over every stage."""
        if ev.get("accuracy_split", ev.get("split")) != "test":
            raise ValueError("evaluation.json must hold test accuracies for the headline")
        pts = ev["points"]
        full = max((p for p in pts if p["family"] == "uniform"), key=lambda p: p["macs"])
        small = min((p for p in pts if p["family"] == "nonuniform"), key=lambda p: p["energy_j"])
        dyn, best = rt["dynamic"], rt["best_static"] or {}
        dyn_test = dyn["effective_accuracy_test"]
        best_point = dyn["best_point_accuracy_test"]
        if dyn_test > best_point + 1e-12:  # cannot happen: a mean of the points' accuracies
            raise AssertionError(f"effective test accuracy {dyn_test} above the best operating "
                                 f"point's {best_point}")
        sel = table.accuracy_split

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.1f} %"

        headline = {
            "full-width accuracy, test split (float / quantized)":
                f"{pct(full['accuracy'])} / {pct(full['accuracy_quantized'])}",
            "PIM energy per image, full width -> cheapest non-uniform sub-net":
                f"{full['energy_j'] * 1e6:.3g} µJ -> {small['energy_j'] * 1e6:.3g} µJ "
                f"({pct(small['accuracy_quantized'])} test accuracy)",
            "operating points in the table": len(table),
            "most accurate operating point, test split": pct(best_point),
            f"run-time tuning: effective accuracy, test split (dynamic vs best static; "
            f"points chosen on {sel})":
                f"{pct(dyn_test)} vs {pct(best.get('effective_accuracy_test'))}",
            "run-time tuning: inferences over the cap (dynamic vs best static)":
                f"{dyn.get('inferences_over_cap', '?')} vs {best.get('inferences_over_cap', '?')}",
            "time of all stages, every attempt of a resumed run included (report excluded)":
                f"{sum(stage_s.values()):.0f} s",
        }
        knobs = f" (run-time precisions {self.opts.precisions})" if self.opts.precisions else ""
        if self.opts.precisions:
            moved = dyn.get("switches_by_knob") or {}
            headline["run-time tuning: switches of the policy by knob (width / precision / "
                     "sub-arrays)"] = (f"{moved.get('width', '?')} / {moved.get('precision', '?')}"
                                       f" / {moved.get('subarrays', '?')}")
        return {"what": f"{self.opts.model} on {self.opts.dataset}, {self.opts.bits}-bit{knobs}, "
                        f"preset {self.opts.preset}", "headline": headline,
                "accuracy_split": {"headline": "test", "selection": sel},
                "numbers": {"full_width_accuracy_test": full["accuracy"],
                            "full_width_accuracy_quantized_test": full["accuracy_quantized"],
                            "best_point_accuracy_test": best_point,
                            "effective_accuracy_test": {"dynamic": dyn_test,
                                                        "best_static":
                                                            best.get("effective_accuracy_test")},
                            "effective_accuracy_selection": {
                                "dynamic": dyn["effective_accuracy"],
                                "best_static": best.get("effective_accuracy")}},
                "stage_seconds": stage_s, "total_seconds": sum(stage_s.values())}


def run_demo(opts: DemoOptions, log: Log = print) -> dict[str, Any]:
    """Run (or resume) the whole demo; returns the summary (also in RUN_DIR/summary.json)."""
    torch.manual_seed(opts.seed)
    return Demo(opts, log).run_all()
