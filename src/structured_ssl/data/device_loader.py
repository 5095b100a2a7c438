"""Training batches cut from a split held on the training device.

Why: the in-memory datasets (digits, MNIST, CIFAR-10) fit on a GPU many times over, and their
augmentation already runs on the model's device (kornia), so a DataLoader only adds a
host-side gather and a host-to-device copy per step, which leaves a small model's GPU idle.
Here the whole split moves to the device once; each epoch's order comes from the same
[`EpochSampler`][structured_ssl.data.sampling.EpochSampler] (seed, epoch, rank), moves over once,
and each batch is one device-side gather. Same batches, same order, same resume position as
[`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from structured_ssl.data.sampling import EpochSampler, ResumablePosition


class DeviceBatches(ResumablePosition):
    """An iterable of ``(images, labels)`` batches on ``device``; Lightning sets its sampler's
    epoch (``.sampler.set_epoch``) and saves / restores its position (``state_dict``)."""

    batch_size: int  # always set here (a DataLoader's may be None)

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        sampler: EpochSampler,
        batch_size: int,
        drop_last: bool,
        epoch_batches: Callable[[], float] | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.epoch_batches = epoch_batches
        self.batches_done = 0  # batches of the current epoch handed to the training loop

    def __len__(self) -> int:
        samples = len(self.sampler)
        return (
            samples // self.batch_size if self.drop_last else math.ceil(samples / self.batch_size)
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.sampler.order()  # after any resume skip, which ``started_at`` records
        self.batches_done = self.sampler.started_at // self.batch_size
        order = order.to(self.images.device, non_blocking=True)
        end = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, end, self.batch_size):
            index = order[start : start + self.batch_size]
            self.batches_done += 1
            yield self.images[index], self.labels[index]
