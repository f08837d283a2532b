"""Data parallelism over ``torch.distributed`` (gloo on CPU, nccl on GPU), started by torchrun.

Each process computes the sandwich-rule gradients on its share of the global batch; the summed
gradients are averaged with one all-reduce before the optimizer step. (Wrapping the model in
``DistributedDataParallel`` would need ``no_sync`` juggling for the several backward passes of a
sandwich step; one explicit all-reduce per step is the same arithmetic.) BN uses per-process
batch statistics, as DDP without SyncBatchNorm does, unless ``TrainConfig.sync_bn`` turns on
:func:`dynpim.nn.set_sync_batchnorm` (global-batch statistics).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, device: str = "cpu") -> DistContext:
        """Join the process group torchrun describes (``WORLD_SIZE`` > 1), else single process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
        if not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            dist.init_process_group(backend=backend, rank=rank, world_size=world)
        return cls(rank, world, local)

    def device(self, requested: str) -> torch.device:
        """``cuda`` becomes ``cuda:<local rank>`` under torchrun."""
        if requested == "cuda" and self.enabled:
            return torch.device("cuda", self.local_rank)
        return torch.device(requested)

    def broadcast_model(self, model: nn.Module) -> None:
        """Make every rank start from rank 0's weights."""
        if self.enabled:
            for t in model.state_dict().values():
                dist.broadcast(t, src=0)

    def average_gradients(self, model: nn.Module) -> None:
        """All-reduce the gradients as one flat buffer and divide by the world size."""
        if not self.enabled:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    def all_true(self, flag: bool) -> bool:
        """True on every rank only if ``flag`` is true on every rank."""
        if not self.enabled:
            return flag
        t = torch.tensor([0 if flag else 1])
        dist.all_reduce(t)
        return int(t) == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
