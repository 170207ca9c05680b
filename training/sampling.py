"""Order of training samples, split between processes and resumable mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, DistributedSampler

from sam2_training.datasets import SampleKey


class ResumableSampler(DistributedSampler):
    """DistributedSampler that yields :class:`SampleKey` and can start mid-epoch.

    The permutation of an epoch depends only on ``(seed, epoch)``; the global batch of
    step j is always the same indices, split between the processes. Incomplete global
    batches at the end of an epoch are dropped.

    Parameters
    ----------
    dataset
        The training dataset.
    global_batch
        Samples per step over all processes.
    num_replicas, rank
        World size and this process's rank.
    seed
        Shuffling seed.
    """

    def __init__(
        self, dataset: Dataset, global_batch: int, num_replicas: int, rank: int, seed: int
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.global_batch = global_batch
        self.local_batch = global_batch // num_replicas
        self.steps_per_epoch = max(len(dataset) // global_batch, 1)  # type: ignore[arg-type]
        self.start_step = 0

    def set_position(self, epoch: int, step_in_epoch: int) -> None:
        """Start the next iteration at ``epoch``, skipping its first ``step_in_epoch`` steps."""
        self.set_epoch(epoch)
        self.start_step = step_in_epoch

    def __iter__(self) -> Iterator[SampleKey]:  # type: ignore[override]
        n = len(self.dataset)  # type: ignore[arg-type]
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=gen).tolist()
        while len(order) < self.steps_per_epoch * self.global_batch:  # tiny data sets
            order += torch.randperm(n, generator=gen).tolist()
        for step in range(self.start_step, self.steps_per_epoch):
            batch = order[step * self.global_batch : (step + 1) * self.global_batch]
            mine = batch[self.rank * self.local_batch : (self.rank + 1) * self.local_batch]
            for index in mine:
                yield SampleKey(self.epoch, index)

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.local_batch
