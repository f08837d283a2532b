"""``TrainConfig``: every option of a training run, frozen, validated, YAML/JSON round-trippable.

The run directory stores the resolved config, so a run can be repeated from its own folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import yaml

from dynpim.errors import MODEL_MAX_BITS, check_bits

MODES = ("dynamic", "individual")
_FLOATS = {"width_mult", "lr", "momentum", "weight_decay", "warmup_epochs", "label_smoothing",
           "min_width", "max_width", "width"}
SAMPLINGS = ("uniform", "discrete", "nonuniform", "fixed")
SUBNET_LOSSES = ("distill", "labels", "both")
AMP_DTYPES = ("bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (defaults: a quick demo on scikit-learn's digits)."""

    model: str = "lenet"
    width_mult: float = 1.0
    wbits: int = 32                     # weight bits 1..8 (quantization-aware), 32 = float
    abits: int = 32                     # activation bits 1..8, 32 = float
    init_from: str | None = None        # start from this (float) checkpoint's weights
    precisions: str | None = None       # lower "wbits/abits" settings trained jointly: "4/4,2/2"
    bn_per_precision: bool = False      # BN scale and shift of their own per lower precision
    lower_weight: float = 0.25          # loss weight of a lower-precision pass (its pair: 1 - it)
    val_precisions: str | None = None   # also validate every epoch at these of --precisions
    dataset: str = "digits"
    data_dir: str | None = None
    holdout: int | None = None          # held-out training samples (None: dataset default)
    split_seed: int = 0
    mode: str = "dynamic"               # dynamic (sandwich rule) | individual (one config)
    sampling: str = "uniform"           # uniform | discrete | nonuniform (--configs) | fixed
    configs: str | None = None          # JSON list of configs (nonuniform sampling)
    width: float | None = None          # uniform ratio of the fixed/individual config
    min_width: float = 0.25             # uniform sampling range [min_width, max_width]
    max_width: float = 1.0
    train_widths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)  # discrete sampling's uniform ratios
    num_random: int = 2                 # random sub-nets per batch besides largest and smallest
    subnet_loss: str = "distill"        # distill (in-place) | labels | both: loss of the others
    epochs: int = 10
    batch_size: int = 128               # global batch (all processes together)
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4          # conv/linear weights only; never BN or biases
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0        # every hard-label loss (largest; others with labels)
    augment: bool = True
    seed: int = 0
    eval_widths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    calib_batches: int = 50             # training batches per BN calibration
    checkpoint_every: int = 0           # also checkpoint every N steps (0: per epoch only)
    max_steps: int | None = None        # stop after this many optimizer steps (tests, smoke)
    out: str = "runs/run"
    device: str = "cpu"
    channels_last: bool = False         # NHWC activations/weights (faster convs on x86 CPUs)
    sync_bn: bool = False               # BN statistics over the global batch (torchrun runs)
    amp: str | None = None              # mixed precision: bf16 | fp16 (None: float32)
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("eval_widths", "train_widths"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"{name} must be a list of numbers, got {v!r}")
            object.__setattr__(self, name, tuple(float(w) for w in v))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the bad field and its allowed range."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(msg)

        need(self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}")
        need(self.subnet_loss in SUBNET_LOSSES, f"subnet_loss must be one of {SUBNET_LOSSES}, "
             f"got {self.subnet_loss!r}")
        need(self.sampling in SAMPLINGS, f"sampling must be one of {SAMPLINGS}, "
             f"got {self.sampling!r}")
        need(self.amp is None or self.amp in AMP_DTYPES,
             f"amp must be one of {AMP_DTYPES} or null, got {self.amp!r}")
        for name in ("width_mult", "lr", "momentum", "weight_decay", "warmup_epochs",
                     "label_smoothing", "min_width", "max_width"):
            v = getattr(self, name)
            need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
                 f"{name} must be a finite number, got {v!r}")
        need(0 < self.min_width <= self.max_width <= 1.0,
             f"need 0 < min_width <= max_width <= 1, got {self.min_width}, {self.max_width}")
        need(self.width is None or 0 < self.width <= 1.0,
             f"width must be in (0, 1], got {self.width}")
        need(all(0 < w <= 1.0 for w in self.eval_widths),
             f"eval_widths must be in (0, 1], got {list(self.eval_widths)}")
        need(all(0 < w <= 1.0 for w in self.train_widths),
             f"train_widths must be in (0, 1], got {list(self.train_widths)}")
        if self.sampling == "discrete":
            need(len(self.train_widths) >= 1, "sampling 'discrete' needs train_widths")
        need(self.lr > 0, f"lr must be > 0, got {self.lr}")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(0 <= self.label_smoothing < 1,
             f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        need(self.width_mult > 0, f"width_mult must be > 0, got {self.width_mult}")
        for name in ("wbits", "abits"):
            check_bits(name, getattr(self, name), max_bits=MODEL_MAX_BITS, float_bits=True)
        if self.precisions is not None or self.val_precisions is not None:
            from dynpim.nn.precision import check_precision, parse_precisions
        if self.precisions is not None:
            need(32 not in (self.wbits, self.abits),
                 "precisions need a quantized model: set wbits and abits (1..8)")
            for p in parse_precisions(self.precisions):
                check_precision(p, (self.wbits, self.abits))
        need(not self.bn_per_precision or self.precisions is not None,
             "bn_per_precision needs precisions (e.g. --precisions 4/4,2/2)")
        need(0 < self.lower_weight < 1,
             f"lower_weight must be in (0, 1), got {self.lower_weight}")
        if self.val_precisions is not None:
            trained = parse_precisions(self.precisions) if self.precisions else []
            for p in parse_precisions(self.val_precisions):
                need(p in trained, f"val_precisions: {p[0]}/{p[1]} is not one of --precisions "
                                   f"({self.precisions})")
        for name, lo in (("epochs", 1), ("batch_size", 1), ("num_random", 0),
                         ("calib_batches", 1), ("checkpoint_every", 0), ("split_seed", 0),
                         ("seed", 0)):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= lo,
                 f"{name} must be an integer >= {lo}, got {v!r}")
        need(self.warmup_epochs <= self.epochs,
             f"warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs}")
        need(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        need(self.max_steps is None or (isinstance(self.max_steps, int) and self.max_steps >= 1),
             f"max_steps must be an integer >= 1, got {self.max_steps!r}")
        need(self.holdout is None or (isinstance(self.holdout, int) and self.holdout >= 0),
             f"holdout must be an integer >= 0, got {self.holdout!r}")
        if self.sampling == "nonuniform":
            need(bool(self.configs), "sampling 'nonuniform' needs configs (a JSON file)")
        if self.sampling == "fixed" or self.mode == "individual":
            need(self.width is not None or bool(self.configs),
                 f"mode {self.mode!r} / sampling {self.sampling!r} needs width (or configs with "
                 f"one config)")

    # -- (de)serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["eval_widths"] = list(self.eval_widths)
        d["train_widths"] = list(self.train_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys are an error (a typo must not be ignored)."""
        if not isinstance(d, dict):
            raise ValueError(f"a training config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        d = {k.replace("-", "_"): v for k, v in d.items()}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        for k, v in list(d.items()):
            if k in _FLOATS and isinstance(v, str):  # YAML reads "1e-4" as a string
                try:
                    d[k] = float(v)
                except ValueError:
                    raise ValueError(f"{k} must be a number, got {v!r}") from None
        return cls(**d)

    @classmethod
    def from_file(cls, path: str, **overrides: Any) -> TrainConfig:
        """Read YAML or JSON; ``overrides`` (e.g. from the command line) win."""
        data = read_options(path)
        data.update(overrides)
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            if path.endswith(".json"):
                json.dump(self.to_dict(), f, indent=1)
            else:
                yaml.safe_dump(self.to_dict(), f, sort_keys=False)

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def read_options(path: str) -> dict[str, Any]:
    """The options in a YAML/JSON config file, keys with ``_``; one-line errors naming the
    file, the line and the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path}:{where}: not valid YAML ({e.problem or e.context})") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text (UTF-8) file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of options, got {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


# The help of every option, shown by ``dynpim train --help`` with the field's default (the
# command line is generated from the fields: one declaration per option).
HELP: dict[str, str] = {
    "model": "registered model (see `dynpim models`)",
    "width_mult": "scale every layer of the model at build time",
    "wbits": "weight bits 1..8 (quantization-aware training), 32 = float",
    "abits": "activation bits 1..8, 32 = float",
    "init_from": "start from a (float) checkpoint's weights",
    "precisions": "lower precisions trained jointly with --wbits/--abits, as wbits/abits pairs "
                  "(e.g. 4/4,2/2): one network switchable at run time (any-precision); every "
                  "sub-net but the largest trains at the stored and a lower precision each "
                  "step (1 + 2 (1 + num_random) passes; loss weights: --lower-weight)",
    "bn_per_precision": "with --precisions: every BN layer gets a scale and shift of its own "
                        "per lower precision (as Any-Precision DNNs keep a BN layer per "
                        "bit-width); folded into each precision's integer program, so free on "
                        "the array",
    "lower_weight": "with --precisions: loss weight of each lower-precision pass; the "
                    "stored-precision pass of the same sub-net gets 1 - it, so a step's "
                    "gradient scale (and the width-only learning rate) is kept",
    "val_precisions": "with --precisions: also validate every epoch at these of them "
                      "(e.g. 2/2), to watch the low precisions learn (each costs one more "
                      "validation per epoch)",
    "dataset": "fashion-mnist | cifar10 | digits | synthetic | tensors",
    "data_dir": "folder with the dataset files (default: the dataset's usual place)",
    "holdout": "training samples held out for validation, search and calibration "
               "(default: the dataset's)",
    "split_seed": "seed of the held-out split",
    "mode": "dynamic: sandwich rule; individual: one fixed sub-net (baseline)",
    "sampling": "uniform: ratio ~ U[min, max]; discrete: only --train-widths; nonuniform: "
                "--configs; fixed: one config",
    "configs": "JSON list of configs to sample (nonuniform) or the one to train",
    "width": "uniform width ratio of the fixed/individual sub-net",
    "min_width": "smallest uniform ratio",
    "max_width": "largest uniform ratio",
    "train_widths": "uniform ratios trained by --sampling discrete",
    "num_random": "random sub-nets per batch besides the largest and the smallest",
    "subnet_loss": "loss of the sub-nets other than the largest: in-place distillation from "
                   "the largest, hard labels, or both summed",
    "epochs": "training epochs",
    "batch_size": "global batch size (all processes together)",
    "lr": "peak learning rate (cosine schedule per step)",
    "momentum": "SGD momentum",
    "nesterov": "Nesterov momentum",
    "weight_decay": "on conv/linear weights only (never BN, biases or depthwise convs)",
    "warmup_epochs": "linear warm-up of the learning rate, in epochs",
    "label_smoothing": "label smoothing of every hard-label loss",
    "augment": "random crop (and flip where it keeps the label) of training batches",
    "seed": "seed of weights, sampling and augmentation",
    "eval_widths": "uniform ratios evaluated (validation per epoch, test at the end)",
    "calib_batches": "training batches per BN calibration",
    "checkpoint_every": "also checkpoint every N steps (0: once per epoch)",
    "max_steps": "stop after N optimizer steps (smoke tests)",
    "out": "run directory",
    "device": "cpu | cuda | cuda:N",
    "channels_last": "NHWC memory format (1.4-1.7x faster 1-thread ResNet-20 steps on an x86 "
                     "CPU)",
    "sync_bn": "with torchrun: BN statistics over the global batch (SyncBatchNorm)",
    "amp": "mixed precision (torch.autocast): bf16, or fp16 with loss scaling",
    "progress": "progress bars (drawn only on a terminal); the per-epoch lines and the final "
                "accuracy table are printed either way",
}
