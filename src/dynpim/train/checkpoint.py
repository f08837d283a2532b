"""Checkpoints that load without unpickling anything: a folder holding

* ``model.safetensors``  — the model's state dict (shared weights),
* ``bn_bank.safetensors`` — banked BN statistics per calibrated sub-net config,
* ``optim.safetensors``  — optimizer state tensors, keyed ``"<param index>/<name>"``,
* ``meta.json``          — everything else: model name/args, configs, optimizer scalars,
  schedule step, RNG states (base64 / int lists), epoch, step, metrics, training config and
  the SHA-256 of each tensor file (a truncated or altered file is caught before parsing).

Save protocol (each step is a fault-injection point, :func:`_step`; tests crash at every one):

1. ``recovered``: leftovers of an earlier crash are settled first (:func:`recover_checkpoint`):
   when ``<dir>`` is missing, the newest *verified* complete copy among ``<dir>.old`` and
   ``<dir>.tmp-*`` is renamed to ``<dir>``; then every other leftover is discarded.
2. ``tmp_created`` / ``tensors_written`` / ``meta_written``: the new checkpoint is written into a
   fresh ``<dir>.tmp-*`` sibling, ``meta.json`` last (fsynced), so a folder with a
   ``meta.json`` whose hashes match is complete.
3. ``moved_aside``: the complete ``<dir>`` is renamed to ``<dir>.old`` (a stale ``.old`` is
   discarded first — only ever while ``<dir>`` is complete).
4. ``renamed``: the temporary folder is renamed to ``<dir>``.
5. ``done``: ``<dir>.old`` is discarded.

Folders are discarded by renaming them to ``<name>.trash-*`` (atomic) and deleting that, so a
crash during a delete never leaves a half-deleted folder that looks like a checkpoint. A crash
at any point therefore leaves at least one complete checkpoint: ``<dir>``, ``<dir>.old`` or a
complete ``<dir>.tmp-*``, which :func:`resolve_checkpoint` finds (without changing anything on
disk) and the next save promotes.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from dynpim.errors import CheckpointError, MissingFileError
from dynpim.nn import DynamicNet, SubnetConfig

from .provenance import git_commit, safetensors_metadata, versions

FORMAT = "dynpim-checkpoint"
VERSION = 1
TENSOR_FILES = ("model.safetensors", "bn_bank.safetensors", "optim.safetensors")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns besides filling the model (and optimizer)."""

    path: str
    model: DynamicNet
    meta: dict[str, Any]
    configs: list[SubnetConfig] = field(default_factory=list)

    @property
    def epoch(self) -> int:
        return int(self.meta.get("epoch", 0))

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))


# -- RNG states as JSON ---------------------------------------------------------------------------
def _b64(t: Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode()


def _unb64(s: str) -> Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def rng_state() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and python RNG states, JSON-serialisable."""
    # legacy=True (numpy's default) on the global MT19937 generator: always the 5-tuple
    np_state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state(legacy=True))
    py_state = random.getstate()
    out = {
        "torch": _b64(torch.get_rng_state()),
        "numpy": [np_state[0], np_state[1].tolist(), *(float(v) for v in np_state[2:])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(_unb64(state["torch"]))
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), int(n[2]), int(n[3]), n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


# -- saving -------------------------------------------------------------------------------------
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cpu_weights(model: DynamicNet) -> dict[str, Tensor]:
    """The weights (state dict without the BN bank, which has its own file)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.weights_state_dict().items()}


def _cpu_bank(model: DynamicNet) -> dict[str, Tensor]:
    return {k: v.cpu() for k, v in model.bn_bank_state().items()}


def _optim_split(opt: torch.optim.Optimizer | None) -> tuple[dict[str, Tensor], dict[str, Any]]:
    if opt is None:
        return {}, {}
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, Tensor):
                tensors[f"{idx}/{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}/{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _step(name: str) -> None:
    """A step of the save protocol has completed (fault-injection point: tests replace this
    function to simulate a crash right after ``name``)."""


def _fsync_file(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _discard(folder: str) -> None:
    """Delete ``folder`` so that a crash never leaves half of it under its own name: rename it
    to ``<folder>.trash-*`` first (atomic), then delete that."""
    if not os.path.isdir(folder):
        return
    trash = tempfile.mkdtemp(prefix=os.path.basename(folder) + ".trash-",
                             dir=os.path.dirname(folder))
    os.rmdir(trash)
    os.rename(folder, trash)
    _step("discarding")
    shutil.rmtree(trash, ignore_errors=True)


def save_checkpoint(
    path: str,
    model: DynamicNet,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    configs: list[SubnetConfig] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint folder at ``path`` atomically (protocol in the module docstring);
    ``extra`` goes into ``meta.json`` (epoch, step, metrics, train config ...). Returns
    ``path``."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    recover_checkpoint(path)
    _step("recovered")
    tmp = tempfile.mkdtemp(prefix=os.path.basename(path) + ".tmp-", dir=parent)
    _step("tmp_created")
    try:
        opt_tensors, opt_meta = _optim_split(optimizer)
        payload = {"model.safetensors": _cpu_weights(model),
                   "bn_bank.safetensors": _cpu_bank(model), "optim.safetensors": opt_tensors}
        meta = {
            "format": FORMAT, "version": VERSION,
            "model": {"name": model.name, "args": model.args,
                      "input_size": list(model.input_size),
                      "slots": [[s.name, s.max_channels, s.min_channels, s.step]
                                for s in model.slots]},
            "configs": [list(c.widths) for c in (configs or [])],
            "optimizer": opt_meta,
            "rng": rng_state(),
            "provenance": {"versions": versions(), "commit": git_commit()},
            "preprocessing": getattr(model, "preprocessing", None),
            **(extra or {}),
        }
        header = safetensors_metadata(meta)
        files = {}
        for name, tensors in payload.items():
            fp = os.path.join(tmp, name)
            save_file(tensors, fp, metadata=header)
            _fsync_file(fp)
            files[name] = _sha256(fp)
        _step("tensors_written")
        meta["files"] = files
    except Exception:  # an error (not a crash): nothing of this save is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _finish(tmp, path, meta)
    return path


def _finish(tmp: str, path: str, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` into the complete folder ``tmp`` and swap it in at ``path``: the
    previous checkpoint is moved aside first and discarded last."""
    try:
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _step("meta_written")
    old = path + ".old"
    if _is_complete(path):
        _discard(old)
        os.rename(path, old)
    _step("moved_aside")
    os.rename(tmp, path)
    _step("renamed")
    _discard(old)
    _step("done")


def _leftovers(path: str) -> list[str]:
    """``<path>.old``, ``<path>.tmp-*`` and the ``*.trash-*`` folders of discards beside
    ``path``."""
    out = []
    for cand in sorted(glob.glob(glob.escape(path) + ".*")):
        rest = cand[len(path):]
        if os.path.isdir(cand) and (rest == ".old" or rest.startswith((".tmp-", ".trash-"))
                                    or rest.startswith(".old.trash-")):
            out.append(cand)
    return out


def _is_complete(folder: str) -> bool:
    """A folder that only ever appears by rename of a complete one: meta.json is there."""
    return os.path.isfile(os.path.join(folder, "meta.json"))


def _verified(folder: str) -> dict[str, Any] | None:
    """``meta.json`` of ``folder`` when it and every tensor file it hashes are intact."""
    try:
        meta = read_meta(folder, resolve=False)
        for name in TENSOR_FILES:
            fp = os.path.join(folder, name)
            if not os.path.isfile(fp) or _sha256(fp) != meta["files"][name]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def _best_copy(path: str) -> str | None:
    """The newest verified complete copy among ``<path>.old`` and ``<path>.tmp-*`` (by saved
    step; the temporary copy, being newer, wins ties)."""
    best, best_key = None, None
    for cand in _leftovers(path):
        if ".trash-" in os.path.basename(cand):
            continue
        meta = _verified(cand)
        if meta is None:
            continue
        key = (int(meta.get("step", 0)) if isinstance(meta.get("step"), int) else 0,
               cand != path + ".old", os.path.getmtime(os.path.join(cand, "meta.json")))
        if best_key is None or key > best_key:
            best, best_key = cand, key
    return best


def recover_checkpoint(path: str) -> str | None:
    """Settle what a crash during a save left beside ``path`` (a checkpoint folder): when
    ``path`` is missing, promote the newest verified complete copy to it; then discard every
    other leftover (``.old``, ``.tmp-*``, ``.trash-*``). Returns ``path`` when a checkpoint is
    there afterwards, else None."""
    path = os.path.abspath(path)
    if not _is_complete(path):
        best = _best_copy(path)
        if best is None:
            return None
        if os.path.isdir(path):  # an empty or partial folder under the final name
            _discard(path)
        os.rename(best, path)
    for left in _leftovers(path):
        _discard(left) if ".trash-" not in left else shutil.rmtree(left, ignore_errors=True)
    return path


def store_bn_bank(path: str, model: DynamicNet) -> str:
    """Replace the BN bank of the checkpoint at ``path`` (a folder or run directory) by
    ``model``'s, leaving weights, optimizer state and metadata as they are; atomic like
    :func:`save_checkpoint`. ``dynpim eval`` uses it to keep what it calibrated. The weights
    must be the checkpoint's (checked by their SHA-256). Returns the checkpoint folder."""
    src = os.path.abspath(resolve_checkpoint(path))
    base = os.path.basename(src)
    if ".tmp-" in base or base.endswith(".old"):  # left by a crash: promote it first
        canon = src[:src.rindex(".tmp-")] if ".tmp-" in base else src[:-len(".old")]
        src = recover_checkpoint(canon) or src
    meta = read_meta(src)
    dest = src
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(dest) + ".tmp-", dir=parent)
    try:
        stored = _load_tensors(src, "model.safetensors", meta)
        own = _cpu_weights(model)
        if stored.keys() != own.keys() or not all(
                stored[k].dtype == v.dtype and torch.equal(stored[k], v) for k, v in own.items()):
            raise ValueError(f"checkpoint {src}: the model's weights differ from the stored "
                             f"ones; save a new checkpoint instead of storing only its BN bank")
        for name in ("model.safetensors", "optim.safetensors"):
            shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
        bank = os.path.join(tmp, "bn_bank.safetensors")
        save_file(_cpu_bank(model), bank, metadata=safetensors_metadata(meta))
        files = dict(meta["files"], **{"bn_bank.safetensors": _sha256(bank)})
        for name in ("model.safetensors", "optim.safetensors"):
            if _sha256(os.path.join(tmp, name)) != files[name]:
                raise ValueError(f"checkpoint {src}: {name} is corrupt")
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _finish(tmp, dest, {**meta, "files": files})
    return dest


# -- loading ------------------------------------------------------------------------------------
def resolve_checkpoint(path: str) -> str:
    """``path`` itself or its ``checkpoint/`` sub-folder (a run dir); when a crash during a save
    left no folder under that name, the newest verified complete copy beside it (``.old`` or
    ``.tmp-*``). Changes nothing on disk (the next save promotes that copy)."""
    for cand in (path, os.path.join(path, "checkpoint")):
        if _is_complete(cand):
            return cand
        best = _best_copy(os.path.abspath(cand))
        if best is not None:
            return best
    if not os.path.exists(path):
        raise MissingFileError(f"checkpoint {path!r} does not exist")
    raise MissingFileError(f"{path!r} holds no checkpoint (no meta.json in it or in "
                          f"{os.path.join(path, 'checkpoint')})")


REQUIRED_META: dict[str, type] = {"format": str, "version": int, "model": dict, "configs": list,
                                   "files": dict, "rng": dict, "optimizer": dict}
REQUIRED_MODEL: dict[str, type] = {"name": str, "args": dict, "input_size": list, "slots": list}


def _check_fields(path: str, group: dict[str, Any], fields: dict[str, type], where: str) -> None:
    """Each key of ``fields`` present in ``group`` with a value of its type (never a bool)."""
    for key, typ in fields.items():
        if key not in group:
            raise CheckpointError(f"checkpoint {path}: meta.json lacks the required field "
                                  f"{where}{key!r}")
        if not isinstance(group[key], typ) or isinstance(group[key], bool):
            raise CheckpointError(f"checkpoint {path}: meta.json field {where}{key!r} must "
                                  f"be a {typ.__name__}, got {type(group[key]).__name__}")


def _check_meta(path: str, meta: Any) -> None:
    """The sidecar's required keys and their types, one-line errors naming the field."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: meta.json is not a {FORMAT} file")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {meta.get('version')} is not "
                              f"supported (this dynpim reads version {VERSION})")
    _check_fields(path, meta, REQUIRED_META, "")
    _check_fields(path, meta["model"], REQUIRED_MODEL, "model.")  # a dict: checked just above
    for name in TENSOR_FILES:
        if not isinstance(meta["files"].get(name), str):
            raise CheckpointError(f"checkpoint {path}: meta.json field files.{name!r} (its "
                                  f"SHA-256) is missing")
    for key in ("epoch", "step"):
        if key in meta and (not isinstance(meta[key], int) or isinstance(meta[key], bool)
                            or meta[key] < 0):
            raise CheckpointError(f"checkpoint {path}: meta.json field {key!r} must be an "
                                  f"integer >= 0, got {meta[key]!r}")


def read_meta(path: str, *, resolve: bool = True) -> dict[str, Any]:
    """Parse and check ``meta.json`` of the checkpoint at ``path`` (no tensors are read)."""
    if resolve:
        path = resolve_checkpoint(path)
    try:
        with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {path}: meta.json is corrupt or truncated "
                              f"({e})") from None
    _check_meta(path, meta)
    return meta


def training_state(path: str) -> str:
    """``"none"`` (no checkpoint at ``path``), ``"partial"`` (saved at an epoch of a training
    that was stopped or killed: resume it) or ``"finished"`` (the trainer's final save, with
    the test table, or a save marked ``finished``). A long pipeline that reuses a stage's
    checkpoint must tell the last two apart: every epoch saves one."""
    found = recover_checkpoint(path)
    if found is None:
        return "none"
    meta = read_meta(found, resolve=False)
    return "finished" if meta.get("finished") is True or "test" in meta else "partial"


def _load_tensors(path: str, name: str, meta: dict[str, Any]) -> dict[str, Tensor]:
    fp = os.path.join(path, name)
    if not os.path.isfile(fp):
        raise CheckpointError(f"checkpoint {path}: {name} is missing")
    if meta["files"].get(name) != _sha256(fp):
        raise CheckpointError(f"checkpoint {path}: {name} is corrupt or truncated (SHA-256 "
                              f"differs from meta.json)")
    try:
        tensors = load_file(fp)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot read {name} "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__})"
                              ) from None
    for k, v in tensors.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"checkpoint {path}: {name} tensor {k!r} holds NaN or "
                                  f"infinite values")
    return tensors


def build_model_from_meta(meta: dict[str, Any]) -> DynamicNet:
    from dynpim.models import create_model, list_models

    name = meta["model"]["name"]
    if name not in list_models():
        raise CheckpointError(f"checkpoint meta.json field model.name: unknown model {name!r}; "
                              f"available: {', '.join(list_models())}")
    try:
        return create_model(name, **meta["model"]["args"])
    except TypeError as e:
        raise CheckpointError(f"checkpoint meta.json field model.args does not fit model "
                              f"{name!r} ({e})") from None


def load_checkpoint(
    path: str,
    model: DynamicNet | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Load weights, BN bank and (optionally) optimizer state into ``model`` (built from the
    recorded name/args when ``None``). Any mismatch raises ``ValueError`` naming it."""
    path = resolve_checkpoint(path)
    meta = read_meta(path)
    if model is None:
        model = build_model_from_meta(meta)
    slots = [[s.name, s.max_channels, s.min_channels, s.step] for s in model.slots]
    if slots != meta["model"]["slots"]:
        raise CheckpointError(f"checkpoint {path} was saved from a model with slots "
                              f"{meta['model']['slots']}, but this model has {slots}")
    weights = _load_tensors(path, "model.safetensors", meta)
    own = model.weights_state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not match the model: missing "
                              f"{missing[:5]}, unexpected {unexpected[:5]}")
    for k, v in weights.items():
        if v.shape != own[k].shape:
            raise CheckpointError(f"checkpoint {path}: {k} has shape {tuple(v.shape)}, the "
                                  f"model expects {tuple(own[k].shape)}")
        if v.dtype != own[k].dtype and (own[k].is_floating_point() or v.is_floating_point()):
            raise CheckpointError(f"checkpoint {path}: {k} has dtype {v.dtype}, the model "
                                  f"expects {own[k].dtype}")
    model.load_state_dict(weights)
    model.clear_bn_bank()
    model.load_bn_bank_state({k: v.to(map_location)
                              for k, v in _load_tensors(path, "bn_bank.safetensors", meta).items()})
    if optimizer is not None:
        tensors = _load_tensors(path, "optim.safetensors", meta)
        om = meta["optimizer"]
        state: dict[int, dict[str, Any]] = {}
        for key, v in list(tensors.items()) + list(om.get("scalars", {}).items()):
            idx, name = key.split("/", 1)
            state.setdefault(int(idx), {})[name] = v.to(map_location) if isinstance(
                v, Tensor) else v
        try:
            optimizer.load_state_dict({"state": state, "param_groups": om["param_groups"]})
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint {path}: optimizer state does not match "
                                  f"({e})") from None
    if isinstance(meta.get("preprocessing"), dict):
        model.preprocessing = meta["preprocessing"]
    configs = [model.validate(c) for c in meta.get("configs", [])]
    return Checkpoint(path, model, meta, configs)
