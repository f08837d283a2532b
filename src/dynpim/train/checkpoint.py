"""Checkpoints that load without unpickling anything: a folder holding

* ``model.safetensors``  — the model's state dict (shared weights),
* ``bn_bank.safetensors`` — banked BN statistics per calibrated sub-net config,
* ``optim.safetensors``  — optimizer state tensors, keyed ``"<param index>/<name>"``,
* ``meta.json``          — everything else: model name/args, configs, optimizer scalars,
  schedule step, RNG states (base64 / int lists), epoch, step, metrics, training config and
  the SHA-256 of each tensor file (a truncated or altered file is caught before parsing).

A checkpoint is written into a temporary sibling folder and renamed into place; the previous
one is moved aside first and deleted last, so a crash at any point leaves a complete checkpoint
(``<dir>`` or ``<dir>.old``, which :func:`resolve_checkpoint` falls back to).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from dynpim.nn import DynamicNet, SubnetConfig

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
    np_state = np.random.get_state()
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
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


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


def save_checkpoint(
    path: str,
    model: DynamicNet,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    configs: list[SubnetConfig] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint folder at ``path`` atomically; ``extra`` goes into ``meta.json``
    (epoch, step, metrics, train config ...). Returns ``path``."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(path) + ".tmp-", dir=parent)
    try:
        opt_tensors, opt_meta = _optim_split(optimizer)
        payload = {"model.safetensors": _cpu_weights(model),
                   "bn_bank.safetensors": _cpu_bank(model), "optim.safetensors": opt_tensors}
        files = {}
        for name, tensors in payload.items():
            fp = os.path.join(tmp, name)
            save_file(tensors, fp)
            files[name] = _sha256(fp)
        meta = {
            "format": FORMAT, "version": VERSION,
            "model": {"name": model.name, "args": model.args,
                      "input_size": list(model.input_size),
                      "slots": [[s.name, s.max_channels, s.min_channels, s.step]
                                for s in model.slots]},
            "configs": [list(c.widths) for c in (configs or [])],
            "optimizer": opt_meta,
            "rng": rng_state(),
            "files": files,
            **(extra or {}),
        }
        _finish(tmp, path, meta)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _finish(tmp: str, path: str, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` into the complete folder ``tmp`` and swap it in at ``path``: the
    previous checkpoint is moved aside first and deleted last."""
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    old = path + ".old"
    if os.path.isdir(old):
        shutil.rmtree(old)
    if os.path.isdir(path):
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def store_bn_bank(path: str, model: DynamicNet) -> str:
    """Replace the BN bank of the checkpoint at ``path`` (a folder or run directory) by
    ``model``'s, leaving weights, optimizer state and metadata as they are; atomic like
    :func:`save_checkpoint`. ``dynpim eval`` uses it to keep what it calibrated. The weights
    must be the checkpoint's (checked by their SHA-256). Returns the checkpoint folder."""
    src = resolve_checkpoint(path)
    meta = read_meta(src)
    dest = src[:-len(".old")] if src.endswith(".old") else src
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(dest) + ".tmp-", dir=parent)
    try:
        save_file(_cpu_weights(model), os.path.join(tmp, "model.safetensors"))
        if _sha256(os.path.join(tmp, "model.safetensors")) != meta["files"]["model.safetensors"]:
            raise ValueError(f"checkpoint {src}: the model's weights differ from the stored "
                             f"ones; save a new checkpoint instead of storing only its BN bank")
        shutil.copyfile(os.path.join(src, "optim.safetensors"),
                        os.path.join(tmp, "optim.safetensors"))
        bank = os.path.join(tmp, "bn_bank.safetensors")
        save_file(_cpu_bank(model), bank)
        files = dict(meta["files"], **{"bn_bank.safetensors": _sha256(bank)})
        if _sha256(os.path.join(tmp, "optim.safetensors")) != files["optim.safetensors"]:
            raise ValueError(f"checkpoint {src}: optim.safetensors is corrupt")
        _finish(tmp, dest, {**meta, "files": files})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# -- loading ------------------------------------------------------------------------------------
def resolve_checkpoint(path: str) -> str:
    """``path`` itself, its ``checkpoint/`` sub-folder (a run dir), or the ``.old`` copy left by
    a crash during a save."""
    for cand in (path, os.path.join(path, "checkpoint")):
        if os.path.isfile(os.path.join(cand, "meta.json")):
            return cand
        if os.path.isfile(os.path.join(cand + ".old", "meta.json")):
            return cand + ".old"
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    raise FileNotFoundError(f"{path!r} holds no checkpoint (no meta.json in it or in "
                            f"{os.path.join(path, 'checkpoint')})")


def read_meta(path: str) -> dict[str, Any]:
    """Parse and check ``meta.json`` of the checkpoint at ``path`` (no tensors are read)."""
    path = resolve_checkpoint(path)
    try:
        with open(os.path.join(path, "meta.json")) as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {path}: meta.json is corrupt or truncated ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path}: meta.json is not a {FORMAT} file")
    if meta.get("version") != VERSION:
        raise ValueError(f"checkpoint {path}: format version {meta.get('version')} is not "
                         f"supported (this dynpim reads version {VERSION})")
    return meta


def _load_tensors(path: str, name: str, meta: dict[str, Any]) -> dict[str, Tensor]:
    fp = os.path.join(path, name)
    if not os.path.isfile(fp):
        raise ValueError(f"checkpoint {path}: {name} is missing")
    if meta["files"].get(name) != _sha256(fp):
        raise ValueError(f"checkpoint {path}: {name} is corrupt or truncated (SHA-256 differs "
                         f"from meta.json)")
    try:
        return load_file(fp)
    except (SafetensorError, OSError) as e:
        raise ValueError(f"checkpoint {path}: cannot read {name} ({e})") from None


def build_model_from_meta(meta: dict[str, Any]) -> DynamicNet:
    from dynpim.models import create_model

    return create_model(meta["model"]["name"], **meta["model"]["args"])


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
        raise ValueError(f"checkpoint {path} was saved from a model with slots "
                         f"{meta['model']['slots']}, but this model has {slots}")
    weights = _load_tensors(path, "model.safetensors", meta)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not match the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    for k, v in weights.items():
        if v.shape != own[k].shape:
            raise ValueError(f"checkpoint {path}: {k} has shape {tuple(v.shape)}, the model "
                             f"expects {tuple(own[k].shape)}")
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
            raise ValueError(f"checkpoint {path}: optimizer state does not match ({e})") from None
    configs = [model.validate(c) for c in meta.get("configs", [])]
    return Checkpoint(path, model, meta, configs)
