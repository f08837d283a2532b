"""BN statistics per sub-net config: the model-wide :class:`BNBank` (calibration, snapshot and
restore, the checkpoint form of the bank) and :func:`calibrate_bn` (US-Nets style)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .layers import DynamicBatchNorm2d
from .precision import bank_key, split_bank_key
from .slots import SubnetConfig

if TYPE_CHECKING:  # DynamicNet builds its BNBank: a run-time import would be a cycle
    from .dynamic_net import DynamicNet

_WHICH = ("mean", "var")


@dataclass(frozen=True)
class BankSnapshot:
    """Statistics of some configs as :meth:`BNBank.snapshot` found them; :meth:`BNBank.restore`
    puts these very tensors back (no copies)."""

    entries: tuple[tuple[str, str, Tensor, Tensor], ...]  # (BN layer, bank key, mean, var)

    def __len__(self) -> int:
        return len(self.entries)


class BNBank:
    """The BN statistics of a :class:`~dynpim.nn.DynamicNet`: one entry per sub-net config (at
    each run-time precision) in every :class:`~dynpim.nn.DynamicBatchNorm2d`.

    The statistics are module state, buffers ``bank_<key>_mean`` / ``bank_<key>_var`` of each
    BN layer (``<key>``: the config key, e.g. ``16-32-64``, with ``-w<b>a<b>`` at an added
    precision; :func:`~dynpim.nn.precision.bank_key`), so ``.to()``, ``.double()``,
    ``state_dict()`` and ``copy.deepcopy`` carry them. This class owns what is done with them,
    keyed by :class:`SubnetConfig` at the model's active precision: calibration, membership,
    dropping, snapshot / restore, and the flat form checkpoints store. Get it as
    ``model.bn_bank`` (a view: cheap, holds no state of its own).
    """

    def __init__(self, model: DynamicNet) -> None:
        self._model = model

    def layers(self) -> list[tuple[str, DynamicBatchNorm2d]]:
        """The model's dynamic BN layers with their names under ``model.body``."""
        return [(n, m) for n, m in self._model.dynamic_layers()
                if isinstance(m, DynamicBatchNorm2d)]

    def key(self, cfg: SubnetConfig | Sequence[int]) -> str:
        """Bank key of ``cfg`` at the active precision (the buffer-name part)."""
        return bank_key(self._model.validate(cfg).key, self._model._state.bits)

    # -- membership --------------------------------------------------------------------------
    def _common_keys(self) -> set[str]:
        keys: set[str] | None = None
        for _, m in self.layers():
            keys = set(m.bank) if keys is None else keys & set(m.bank)
        return keys or set()

    def __contains__(self, cfg: object) -> bool:
        """``cfg`` calibrated in every BN layer at the active precision."""
        if not isinstance(cfg, (SubnetConfig, list, tuple)):
            return False
        try:
            key = self.key(cfg)
        except ValueError:  # not a config of this model
            return False
        return key in self._common_keys()

    def configs(self, bits: Sequence[int] | None = None) -> list[SubnetConfig]:
        """Configs calibrated in every BN layer at precision ``bits`` (default: the stored
        precision), sorted by key."""
        model = self._model
        want = None if bits is None or tuple(bits) == model.stored_precision else tuple(bits)
        out = []
        for k in sorted(self._common_keys()):
            widths, kbits = split_bank_key(k)
            if kbits == want:
                out.append(SubnetConfig(widths))
        return out

    # -- calibration -------------------------------------------------------------------------
    def calibrate(self, cfg: SubnetConfig | Sequence[int],
                  batches: Iterable[Tensor | tuple[Tensor, ...]], *,
                  max_batches: int | None = None) -> SubnetConfig:
        """Forward ``batches`` at ``cfg`` in train mode and bank the averaged BN statistics
        (replacing any banked for ``cfg`` at the active precision). Batches may be tensors or
        ``(x, y)`` tuples. Returns the validated config."""
        model = self._model
        cfg = model.validate(cfg)
        bns = [m for _, m in self.layers()]
        was_training = model.training
        n = 0
        with model.subnet(cfg), torch.no_grad():
            for m in bns:
                m._acc = []
            model.train()
            model._state.calibrating = True
            try:
                for batch in batches:
                    if max_batches is not None and n >= max_batches:
                        break
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    model(x)
                    n += 1
                if n == 0:
                    raise ValueError("calibrate_bn needs at least one batch")
                for m in bns:
                    m.finish_calibration()
            finally:
                model._state.calibrating = False
                model.train(was_training)
        return cfg

    def discard(self, cfg: SubnetConfig | Sequence[int]) -> None:
        """Forget the statistics of ``cfg`` at the active precision (no error if none)."""
        key = self.key(cfg)
        for _, m in self.layers():
            m.bank.pop(key, None)

    def clear(self) -> None:
        """Forget every entry (e.g. after the channels were reordered)."""
        for _, m in self.layers():
            m.bank.clear()

    # -- snapshot / restore ------------------------------------------------------------------
    def snapshot(self, cfgs: Iterable[SubnetConfig | Sequence[int]]) -> BankSnapshot:
        """The statistics of those of ``cfgs`` calibrated (in every BN layer) at the active
        precision; others are left out."""
        common = self._common_keys()
        keys = list(dict.fromkeys(k for k in (self.key(c) for c in cfgs) if k in common))
        return BankSnapshot(tuple((n, k, *m.bank[k]) for k in keys for n, m in self.layers()))

    def restore(self, snapshot: BankSnapshot) -> None:
        """Put the entries of ``snapshot`` back (replacing what is banked under their keys)."""
        layers = dict(self.layers())
        for n, key, mean, var in snapshot.entries:
            layers[n].bank[key] = (mean, var)

    # -- checkpoint form ---------------------------------------------------------------------
    def state_dict_keys(self) -> set[str]:
        """The ``model.state_dict()`` keys that hold bank statistics."""
        return {f"body.{n}.bank_{key}_{w}" for n, m in self.layers() for key in m.bank
                for w in _WHICH}

    def state(self) -> dict[str, Tensor]:
        """Flat dict ``{layer|bank key|mean/var: tensor}`` of every entry (copies)."""
        out = {}
        for n, m in self.layers():
            for key, (mean, var) in m.bank.items():
                out[f"{n}|{key}|mean"] = mean.detach().clone().contiguous()
                out[f"{n}|{key}|var"] = var.detach().clone().contiguous()
        return out

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Inverse of :meth:`state` (adds or replaces entries); checks layer names and widths."""
        model = self._model
        layers = dict(self.layers())
        pending: dict[tuple[str, str], dict[str, Tensor]] = {}
        for full, t in state.items():
            try:
                n, key, which = full.split("|")
            except ValueError:
                raise ValueError(f"malformed BN bank entry {full!r}") from None
            if n not in layers or which not in _WHICH:
                raise ValueError(f"BN bank entry {full!r} does not match this model")
            pending.setdefault((n, key), {})[which] = t
        for (n, key), d in pending.items():
            cfg = model.validate(list(split_bank_key(key)[0]))
            c = model._io_widths(layers[n], cfg.widths)[1]
            if set(d) != set(_WHICH) or d["mean"].shape != (c,) or d["var"].shape != (c,):
                raise ValueError(f"BN bank entry for {n} at [{key}] has wrong shape")
            layers[n].bank[key] = (d["mean"].clone(), d["var"].clone())

    def __repr__(self) -> str:
        return f"BNBank({[c.key for c in self.configs()]})"


def calibrate_bn(
    model: DynamicNet,
    cfg: SubnetConfig | Sequence[int],
    batches: Iterable[Tensor | tuple[Tensor, ...]],
    *,
    max_batches: int | None = None,
) -> SubnetConfig:
    """Forward ``batches`` at ``cfg`` in train mode and bank the averaged BN statistics.

    Replaces any statistics banked for ``cfg`` before. Batches may be tensors or ``(x, y)``
    tuples. Returns the validated config. (``model.bn_bank.calibrate``.)
    """
    return BNBank(model).calibrate(cfg, batches, max_batches=max_batches)


def set_sync_batchnorm(model: DynamicNet, enabled: bool = True) -> int:
    """Make every dynamic BN of ``model`` normalise with global-batch statistics while a
    ``torch.distributed`` process group is up (SyncBatchNorm); returns how many BN layers."""
    bns = [m for _, m in model.dynamic_layers() if isinstance(m, DynamicBatchNorm2d)]
    for m in bns:
        m.sync = enabled
    return len(bns)
