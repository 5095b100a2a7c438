"""Epoch-wise sampling that resumes exactly: the seeded, per-rank shuffled order of one epoch
([`EpochSampler`][structured_ssl.data.sampling.EpochSampler]) and the position within it that a
checkpoint records and a resumed run skips to
([`ResumablePosition`][structured_ssl.data.sampling.ResumablePosition]), used by the DataLoader path
([`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader]) and by the
device-resident batches alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sized
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def dataset_size(dataset: Dataset, name: str = "dataset") -> int:
    """``len(dataset)``: map-style datasets define it, ``Dataset`` itself does not (TypeError,
    as ``len`` raises, when it is missing)."""
    if not isinstance(dataset, Sized):
        raise TypeError(
            f"{name} ({type(dataset).__name__}) has no len(); a sized Dataset is needed"
        )
    return len(dataset)


def epoch_seed(seed: int, epoch: int) -> int:
    """One 63-bit seed per (seed, epoch), mixed so that (0, 1) and (1, 0) differ (``seed + epoch``
    would give runs with neighbouring seeds the same data orders, one epoch apart)."""
    return int(
        np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


class EpochSampler(DistributedSampler):
    """A shuffling sampler whose order depends only on (seed, epoch, rank), never on global RNG,
    and which can start part-way through an epoch.

    It is a `DistributedSampler`, so Lightning keeps it under DDP
    instead of wrapping it (each rank draws its own shard of the same permutation) and calls
    `set_epoch` before every epoch.
    [`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader] sets `resume_at` from
    a checkpoint; the skip applies only when the epoch being drawn is the epoch it was recorded in,
    so a checkpoint taken at an epoch's end never skips into the next epoch.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        drop_last: bool = False,
    ):
        super().__init__(
            dataset,
            num_replicas=num_replicas,
            rank=rank,
            shuffle=True,
            seed=seed,
            drop_last=drop_last,
        )
        self.resume_at: tuple[int, int] | None = None  # (epoch, samples of this rank already drawn)
        self.started_at = 0  # samples skipped by the current iteration

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def order(self) -> torch.Tensor:
        """This rank's remaining indices of the current epoch, as a tensor (what ``__iter__`` yields)."""
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        indices = torch.randperm(dataset_size(self.dataset), generator=generator)
        if self.total_size > len(indices):  # pad (not drop_last) so every rank gets num_samples
            indices = indices.repeat(math.ceil(self.total_size / len(indices)))
        indices = indices[: self.total_size][self.rank :: self.num_replicas]
        resume, self.resume_at = self.resume_at, None
        self.started_at = resume[1] if resume is not None and resume[0] == self.epoch else 0
        return indices[self.started_at :]


class ResumablePosition:
    """The saved position of a training loader over an
    [`EpochSampler`][structured_ssl.data.sampling.EpochSampler] (see
    [`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader]); a mixin, so the
    device-resident loader saves it the same way.

    Needs ``sampler``, ``batch_size``, ``epoch_batches``, ``batches_done`` and ``__len__``.
    """

    sampler: Any
    batch_size: int | None
    epoch_batches: Callable[[], float] | None
    batches_done: int

    if TYPE_CHECKING:  # the loader's own (declared here only for the type checker)

        def __len__(self) -> int: ...

    def state_dict(self) -> dict[str, int]:
        sampler: EpochSampler = self.sampler
        per_epoch = self.epoch_batches() if self.epoch_batches is not None else len(self)
        if self.batches_done >= min(per_epoch, len(self)):
            return {"epoch": sampler.epoch + 1, "batches": 0}
        return {"epoch": sampler.epoch, "batches": self.batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler: EpochSampler = self.sampler
        # Set the epoch now: with workers, the sampler is drawn when the iterator is created,
        # which Lightning does before it calls set_epoch for the resumed epoch.
        sampler.set_epoch(int(state["epoch"]))
        sampler.resume_at = (int(state["epoch"]), int(state["batches"]) * int(self.batch_size or 1))
        self.batches_done = int(state["batches"])


class ResumableDataLoader(ResumablePosition, DataLoader):
    """A training DataLoader whose position Lightning saves in checkpoints and restores.

    Lightning's fit loop stores ``state_dict()`` of every train loader that has one (under
    ``loops.fit_loop.combined_loader``) and calls ``load_state_dict`` before iterating again,
    so a run resumed from a mid-epoch checkpoint continues with the next unseen batch instead of
    replaying the epoch. Positions are counted where batches reach the training loop (not where
    workers prefetch them). ``epoch_batches`` returns how many batches the trainer takes per
    epoch (``limit_train_batches`` may stop an epoch before the loader is exhausted): a
    position at or past it means "epoch finished", saved as the start of the next epoch.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        sampler: EpochSampler,
        epoch_batches: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset, sampler=sampler, **kwargs)
        self.epoch_batches = epoch_batches
        self.batches_done = 0  # batches of the current epoch handed to the training loop

    # a generator over the parent's iterator, not DataLoader's ``_BaseDataLoaderIter``
    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        sampler: EpochSampler = self.sampler
        if self.generator is not None:  # worker seeds per (seed, epoch) too, not per process start
            self.generator.manual_seed(epoch_seed(sampler.seed, sampler.epoch) + 1)
        started = False
        for batch in super().__iter__():
            if not started:  # the sampler has started drawing: it knows what it skipped
                if self.batch_size is None:
                    raise ValueError(
                        "ResumableDataLoader counts its position in batches: give batch_size"
                    )
                self.batches_done = sampler.started_at // self.batch_size
                started = True
            self.batches_done += 1
            yield batch
