"""torchrun / DistributedDataParallel: the same loop on N processes.

Under ``torchrun --nproc_per_node N`` (WORLD_SIZE > 1) each process trains on its shard of
every epoch's order (DistributedSampler's rule: the order padded to a multiple of N, every
N-th sample), with ``batch_size / N`` samples per process so the global batch is what the
spec says; gradients are averaged by DDP. The training loss and the validation outputs are
gathered from all ranks, so every rank computes the same metrics and takes the same early-
stopping decision. Rank 0 alone logs and writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this loop started the process group and ends it

    @property
    def on(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)


def shard(order: torch.Tensor, d: Dist) -> torch.Tensor:
    """This rank's part of an epoch's order, padded like DistributedSampler (drop_last=False)."""
    if not d.on:
        return order
    total = -(-len(order) // d.world) * d.world
    if total > len(order):
        order = torch.cat([order, order[:total - len(order)]])
    return order[d.rank:total:d.world]


def gather(obj: Any, d: Dist) -> list[Any]:
    """Every rank's ``obj``, in rank order (the whole list on every rank)."""
    if not d.on:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.on:
        import torch.distributed as dist

        dist.barrier()


def teardown(d: Dist) -> None:
    if d.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
