"""Progressive greedy non-uniform sub-net search (DAC'20 / TNNLS'22), optionally hardware-aware.

From the largest config, every step tries removing one channel group from each slot that is
still above its minimum, evaluates every candidate (held-out split, BN recalibrated), and commits
the best one:

* ``accuracy`` (the papers' rule): highest candidate accuracy;
* ``accuracy-per-cost``: least accuracy lost per unit of relative cost saved, cost = PIM energy,
  PIM latency or MACs. Candidates that lose no accuracy come first, biggest saving first.

When the committed accuracy is below ``finetune_threshold`` a short fine-tune of the committed
config runs (selective fine-tuning); pruned channels are simply unused thanks to prefix slicing.
Every step is appended to a JSON-lines trajectory; ``resume=True`` continues it exactly
(fine-tuned weights are snapshotted next to it).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from safetensors.torch import load_file, save_file

from dynpim.nn import DynamicNet, Slot, SubnetConfig

from .costs import COST_KEYS, CostFn, cost_key
from .evaluate import Evaluator
from .trajectory import (
    HEADER_TYPE,
    SearchStep,
    append_step,
    read_trajectory,
    truncate_to,
    write_header,
)

OBJECTIVES = ("accuracy", "accuracy-per-cost")
Finetune = Callable[[DynamicNet, SubnetConfig, int], None]


@dataclass(frozen=True)
class SearchOptions:
    """How the search runs; everything that changes the trajectory (except ``max_steps``)."""

    objective: str = "accuracy"
    cost: str = "energy"                    # energy | latency | macs (used by accuracy-per-cost)
    group_divisor: int = 8                  # channel group = slot max width / group_divisor
    min_ratio: float | None = None          # per-slot minimum width fraction (None: slot's own)
    finetune_threshold: float | None = None  # fine-tune when accuracy falls below (fraction)
    stop_accuracy: float | None = None      # stop once the committed accuracy is below this
    max_steps: int | None = None            # stop after this many removals (not in the header)
    group_size: int | None = None           # channels per group, all slots (overrides divisor)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.cost not in COST_KEYS:
            raise ValueError(f"cost must be one of {tuple(COST_KEYS)}, got {self.cost!r}")
        d = self.group_divisor
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"group_divisor must be an int >= 1, got {d!r}")
        if self.min_ratio is not None and not 0 < self.min_ratio <= 1:
            raise ValueError(f"min_ratio must be in (0, 1], got {self.min_ratio!r}")
        for name in ("finetune_threshold", "stop_accuracy"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 1:
                raise ValueError(f"{name} is an accuracy fraction in [0, 1], got {v!r}")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"max_steps must be >= 0, got {self.max_steps!r}")
        g = self.group_size
        if g is not None and (isinstance(g, bool) or not isinstance(g, int) or g < 1):
            raise ValueError(f"group_size must be an int >= 1, got {g!r}")

    def identity(self) -> dict[str, Any]:
        """The options a resumed search must share with the original one (options added later
        appear only when set, so older trajectories still resume)."""
        d = asdict(self)
        d.pop("max_steps")
        if d["group_size"] is None:
            d.pop("group_size")
        return d


def check_granularity(slots: tuple[Slot, ...], divisor: int, min_ratio: float | None,
                      group_size: int | None = None) -> list[str]:
    """Refuse a ``min_ratio`` below what some slot allows (``ValueError`` naming the slot) and
    return one warning per slot whose group is larger than asked (``max / divisor`` or
    ``group_size`` below the slot's step): nothing is clamped silently."""
    if min_ratio is not None:
        bad = [s for s in slots if math.ceil(min_ratio * s.max_channels - 1e-9) < s.min_channels]
        if bad:
            s = bad[0]
            asked = math.ceil(min_ratio * s.max_channels - 1e-9)
            raise ValueError(
                f"min_ratio {min_ratio} asks slot {s.name!r} for {asked} channel(s) but its "
                f"smallest valid width is {s.min_channels} "
                f"({len(bad)} slot(s) affected); use a model with finer slots (e.g. "
                f"resnet20_fine: 1-channel steps down to 1 channel) or min_ratio >= "
                f"{max(b.min_channels / b.max_channels for b in bad):.3g}")
    out = []
    for s in slots:
        want = group_size if group_size is not None else s.max_channels // divisor
        if want < s.step:
            what = f"group size {group_size}" if group_size is not None else \
                f"group divisor {divisor} ({s.max_channels} // {divisor} = {want} channel(s))"
            out.append(f"slot {s.name!r}: {what} is below the slot's step of {s.step} "
                       f"channel(s); its groups are {s.step} channel(s)")
        elif want % s.step:
            out.append(f"slot {s.name!r}: a group of {want} channel(s) is not a multiple of the "
                       f"slot's step {s.step}; its groups are {want // s.step * s.step}")
    return out


def group_sizes(slots: tuple[Slot, ...], divisor: int, group_size: int | None = None
                ) -> list[int]:
    """Channels removed per step in each slot: ``max / divisor`` (or ``group_size``) rounded
    down to the slot's step (at least one step; :func:`check_granularity` reports rounding)."""
    return [max(s.step, ((s.max_channels // divisor) if group_size is None else group_size)
                // s.step * s.step) for s in slots]


def min_widths(slots: tuple[Slot, ...], min_ratio: float | None) -> list[int]:
    """Smallest width the search may reach per slot (a valid width of the slot)."""
    if min_ratio is None:
        return [s.min_channels for s in slots]
    return [min(s.max_channels, max(s.min_channels,
                                    math.ceil(min_ratio * s.max_channels / s.step) * s.step))
            for s in slots]


def candidates(cfg: SubnetConfig, groups: list[int], mins: list[int]
               ) -> list[tuple[int, SubnetConfig]]:
    """``(slot index, config)`` for every slot that can lose one more group (a last, smaller
    group takes the slot exactly to its minimum)."""
    out = []
    for i, (w, g, lo) in enumerate(zip(cfg.widths, groups, mins)):
        if w > lo:
            widths = list(cfg.widths)
            widths[i] = max(lo, w - g)
            out.append((i, SubnetConfig(widths)))
    return out


def choose(objective: str, acc_cur: float, cost_cur: float, accs: list[float],
           costs: list[float]) -> int:
    """Index of the candidate to commit (ties: bigger saving, then lower slot index)."""
    saved = [(cost_cur - c) / cost_cur if cost_cur > 0 else 0.0 for c in costs]
    if objective == "accuracy":
        keys: list[tuple[float, ...]] = [(-a, -s, i) for i, (a, s) in enumerate(zip(accs, saved))]
    else:
        keys = []
        for i, (a, s) in enumerate(zip(accs, saved)):
            loss = acc_cur - a
            if s <= 0:                      # saves nothing: only if nothing else is possible
                keys.append((2, -a, i))
            elif loss <= 0:                 # loses nothing: take the biggest saving
                keys.append((0, -s, -a, i))
            else:                           # accuracy lost per relative cost saved
                keys.append((1, loss / s, -a, i))
    return min(range(len(keys)), key=keys.__getitem__)


def _cost_row(costs: dict[str, Any], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in costs.items()}


def _step(step: int, cfg: SubnetConfig, acc: float, cost: dict[str, float], **extra: Any
          ) -> SearchStep:
    return SearchStep(step=step, config=tuple(cfg.widths), key=cfg.key, accuracy=acc,
                      macs=int(cost["macs"]), energy_j=cost.get("energy_j"),
                      latency_s=cost.get("latency_s"), **extra)


def progressive_search(
    model: DynamicNet,
    evaluate: Evaluator,
    cost_fn: CostFn,
    options: SearchOptions | None = None,
    *,
    trajectory_path: str | None = None,
    resume: bool = False,
    finetune: Finetune | None = None,
    meta: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[SearchStep]:
    """Run (or continue) the search; return the steps (step 0 = the largest config).

    ``trajectory_path``: JSON-lines file written as the search goes (needed for ``resume``);
    fine-tuned weights go to ``<path>.finetune-<step>.safetensors``. ``meta`` is stored in the
    header (e.g. the checkpoint and ranking used) and must match on resume.
    """
    opts = options or SearchOptions()
    search = _Search(model, evaluate, cost_fn, opts, trajectory_path, finetune, log)
    header = search.header(meta)
    if opts.finetune_threshold is not None and finetune is None:
        raise ValueError("finetune_threshold is set but no finetune callback was given")
    records = search.resumed(header) if resume else []
    if not records:
        if trajectory_path is not None:
            write_header(trajectory_path, header)
        records.append(search.first())
    while opts.max_steps is None or len(records) - 1 < opts.max_steps:
        nxt = search.next(records[-1])
        if nxt is None:
            break
        records.append(nxt)
    return records


class _Search:
    """The state one search run shares between its steps."""

    def __init__(self, model: DynamicNet, evaluate: Evaluator, cost_fn: CostFn,
                 opts: SearchOptions, path: str | None, finetune: Finetune | None,
                 log: Callable[[str], None] | None) -> None:
        self.model, self.evaluate, self.cost_fn, self.opts = model, evaluate, cost_fn, opts
        self.path, self.finetune, self.log = path, finetune, log
        slots = model.slots
        for w in check_granularity(slots, opts.group_divisor, opts.min_ratio, opts.group_size):
            warnings.warn(w, stacklevel=3)
            if log is not None:
                log(f"warning: {w}")
        self.groups = group_sizes(slots, opts.group_divisor, opts.group_size)
        self.mins = min_widths(slots, opts.min_ratio)
        self.key = cost_key(opts.cost)

    def header(self, meta: dict[str, Any] | None) -> dict[str, Any]:
        return _jsonable({"model": self.model.name,
                          "slots": [[s.name, s.max_channels, s.min_channels, s.step]
                                    for s in self.model.slots],
                          "options": self.opts.identity(), "groups": self.groups,
                          "min_widths": self.mins, "meta": dict(meta or {})})

    def resumed(self, header: dict[str, Any]) -> list[SearchStep]:
        """The steps recorded in the trajectory (checked against ``header``), the file cut
        to them and the last fine-tuned weights restored; ``[]`` when there is no file."""
        if self.path is None:
            raise ValueError("resume needs a trajectory_path")
        if not os.path.isfile(self.path):
            return []
        old, rows = read_trajectory(self.path)
        old = {k: v for k, v in old.items() if k != "type"}
        if old != header:
            diff = sorted(k for k in set(old) | set(header) if old.get(k) != header.get(k))
            raise ValueError(f"{self.path}: cannot resume, the search differs in "
                             f"{', '.join(diff)}; start a new one without --resume")
        truncate_to(self.path, {"type": HEADER_TYPE, **header}, rows)
        records = [SearchStep.from_dict(r) for r in rows]
        _load_snapshot(self.model, self.path, records)
        return records

    def first(self) -> SearchStep:
        cfg = self.model.max_config()
        t0 = time.perf_counter()
        acc = self.evaluate(self.model, [cfg])[0]
        cost = _cost_row(self.cost_fn([cfg]), 0)
        rec = _step(0, cfg, acc, cost, time_s=time.perf_counter() - t0)
        _emit(self.path, rec, self.log)
        return rec

    def next(self, last: SearchStep) -> SearchStep | None:
        """The next committed step after ``last``, or None when the search stops."""
        opts, model = self.opts, self.model
        if opts.stop_accuracy is not None and last.accuracy < opts.stop_accuracy:
            return None
        cfg = model.validate(SubnetConfig(last.config))
        cands = candidates(cfg, self.groups, self.mins)
        if not cands:
            return None
        t0 = time.perf_counter()
        costs = self.cost_fn([cfg] + [c for _, c in cands])
        if self.key not in costs:
            raise ValueError(f"cost {opts.cost!r} needs PIM estimates: give a hardware preset")
        accs = self.evaluate(model, [c for _, c in cands], parent=cfg)
        pick = choose(opts.objective, last.accuracy, float(costs[self.key][0]), accs,
                      [float(v) for v in costs[self.key][1:]])
        slot_i, new = cands[pick]
        step = last.step + 1
        acc, before, ft_steps = self._finetune(accs[pick], new, step)
        rec = _step(step, new, acc, _cost_row(costs, pick + 1),
                    removed_slot=model.slots[slot_i].name,
                    removed_channels=cfg.widths[slot_i] - new.widths[slot_i],
                    finetuned=before is not None, accuracy_before_finetune=before,
                    finetune_steps=ft_steps,
                    candidates=tuple((i, a) for (i, _), a in zip(cands, accs)),
                    time_s=time.perf_counter() - t0)
        _emit(self.path, rec, self.log)
        return rec

    def _finetune(self, acc: float, new: SubnetConfig, step: int
                  ) -> tuple[float, float | None, int | None]:
        """Selective fine-tuning: ``(accuracy, accuracy before fine-tuning or None, steps run
        or None)``."""
        threshold = self.opts.finetune_threshold
        if threshold is None or acc >= threshold:
            return acc, None, None
        assert self.finetune is not None
        self.finetune(self.model, new, step)
        after = self.evaluate(self.model, [new])[0]
        last = getattr(self.finetune, "last_steps", None)
        if self.path is not None:
            _save_snapshot(self.model, self.path, step, new)
        return after, acc, None if last is None else int(last)


def _emit(path: str | None, record: SearchStep, log: Callable[[str], None] | None) -> None:
    if path is not None:
        append_step(path, record)
    if log is not None:
        extra = " (fine-tuned)" if record.finetuned else ""
        energy = record.energy_j if record.energy_j is not None else float("nan")
        log(f"step {record.step:3d}  validation top-1 {100 * record.accuracy:.2f} %  "
            f"{record.macs / 1e6:.3f} MMACs  PIM energy {energy * 1e6:.3f} µJ  "
            f"[{record.key}]  {record.time_s:.1f} s{extra}")


def _snapshot_path(trajectory_path: str, step: int) -> str:
    return f"{trajectory_path}.finetune-{step:04d}.safetensors"


def _save_snapshot(model: DynamicNet, trajectory_path: str, step: int,
                   config: SubnetConfig | None = None) -> None:
    """The fine-tuned weights (BN bank excluded, as before it became module state) with
    header metadata and a ``<snapshot>.json`` sidecar: model, step, config, preprocessing,
    versions and commit."""
    import json

    from dynpim.train.provenance import git_commit, safetensors_metadata, versions

    path = _snapshot_path(trajectory_path, step)
    meta = {"format": "dynpim-search-snapshot", "step": step,
            "model": {"name": model.name, "args": model.args,
                      "input_size": list(model.input_size)},
            "configs": [list(config.widths)] if config is not None else [],
            "trajectory": os.path.basename(trajectory_path),
            "preprocessing": model.preprocessing,
            "provenance": {"versions": versions(), "commit": git_commit()}}
    with open(f"{path}.json.tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(f"{path}.json.tmp", f"{path}.json")
    state = {k: v.detach().cpu().contiguous() for k, v in model.weights_state_dict().items()}
    save_file(state, f"{path}.tmp", metadata=safetensors_metadata(meta))
    os.replace(f"{path}.tmp", path)


def _load_snapshot(model: DynamicNet, trajectory_path: str, records: list[SearchStep]) -> None:
    """Restore the weights of the last fine-tuned recorded step, if any."""
    tuned = [r.step for r in records if r.finetuned]
    if not tuned:
        return
    path = _snapshot_path(trajectory_path, tuned[-1])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cannot resume: fine-tuned weights {path!r} are missing")
    device = next(model.parameters()).device
    state = {k: v.to(device) for k, v in load_file(path).items()}
    model.load_state_dict(state)


def _jsonable(x: Any) -> Any:
    """Round-trip through JSON types (tuples -> lists) so headers compare equal after reading."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x
