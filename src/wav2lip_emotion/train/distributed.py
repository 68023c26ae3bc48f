"""Where a training process stands in a torchrun job (:class:`Distributed`), and the small helpers every
part of the trainer shares: stable seeds from integers and the model inside a DistributedDataParallel
wrapper."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device_type: str) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes, unlike hash())."""
    import numpy as np

    return int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, whether or not it is wrapped (DistributedDataParallel keeps it as ``.module``)."""
    return model.module if hasattr(model, "module") else model
