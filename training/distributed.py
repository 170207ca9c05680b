"""Multi-process training through ``torchrun`` (torch.distributed), nothing home-made.

Launch several processes with the standard launcher, e.g. on one machine with 4 GPUs::

    torchrun --nproc_per_node=4 -m sam2_training data.folder=/data trainer.batch_size=8

or on several nodes with ``--nnodes``/``--rdzv_endpoint``. ``torchrun`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous variables; :func:`setup` reads them
and joins the process group (NCCL on CUDA, gloo otherwise). The model is wrapped in
DistributedDataParallel and each process reads its share of every global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job.

    Attributes
    ----------
    rank, world_size, local_rank
        As set by ``torchrun`` (0, 1, 0 for a single process).
    owns_group
        True when :func:`setup` created the process group (and :func:`teardown` ends it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def setup(backend: str = "auto", device_type: str = "cpu") -> DistInfo:
    """Join the process group described by the environment (a no-op for one process).

    Parameters
    ----------
    backend
        ``"auto"`` (NCCL for CUDA devices, else gloo), ``"nccl"`` or ``"gloo"``.
    device_type
        Type of the training device (``"cuda"``, ``"cpu"``, ...).
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), _local_rank(), False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if backend == "auto":
        backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(dist.get_rank(), dist.get_world_size(), _local_rank(), True)


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def teardown(info: DistInfo) -> None:
    """Leave the process group if :func:`setup` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over all processes (returned unchanged for one process)."""
    if not info.is_distributed:
        return value
    out = value.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every process (e.g. a cancel request)."""
    if not info.is_distributed:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier(info: DistInfo) -> None:
    """Wait for all processes (no-op for one)."""
    if info.is_distributed:
        dist.barrier()
