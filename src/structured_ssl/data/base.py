"""The one DataModule interface every objective shares.

A DataModule yields un-augmented ``(image, label)`` batches: float32 images in [0, 1],
shape ``(B, C, H, W)``, int64 labels. Augmentation never happens here; augmentation-based
objectives augment on the model's device (kornia), so one DataModule serves A-SSL, S-SSL,
Frozen, Supervised and linear evaluation alike, and the loader stays cheap.

A subclass implements only :meth:`load_arrays`, returning whole splits as tensors. This base
class owns the seeded train/val split, the seeded rotated test set, normalisation statistics
and the loaders, so every dataset behaves the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data, before it sees a batch."""

    channels: int
    image_size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass
class Splits:
    """Whole splits as tensors: images float32 in [0, 1] ``(N, C, H, W)``, labels int64 ``(N,)``.

    ``val`` may be None, in which case the base class carves it out of ``train``.
    """

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor] | None = None


def pad_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad ``(N, C, h, w)`` to ``size`` x ``size``, the extra pixel after when odd.

    Why: rotating by 90 degrees about the canvas centre permutes pixels, and stride-2 layers
    sample a grid symmetric about that centre only at odd sizes 1 + k x stride."""
    ph, pw = size - images.shape[-2], size - images.shape[-1]
    if ph == 0 and pw == 0:
        return images
    return torch.nn.functional.pad(images, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def check_padded_size(image_size: int, native: int) -> int:
    """A padded side must hold the native image."""
    if image_size < native:
        raise ValueError(
            f"data.image_size={image_size} is smaller than {native}, the side of the dataset's images"
        )
    return int(image_size)


def epoch_seed(seed: int, epoch: int) -> int:
    """One 63-bit seed per (seed, epoch), mixed so that (0, 1) and (1, 0) differ (``seed + epoch``
    would give runs with neighbouring seeds the same data orders, one epoch apart)."""
    return int(
        np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


class EpochSampler(DistributedSampler):
    """A shuffling sampler whose order depends only on (seed, epoch, rank), never on global RNG,
    and which can start part-way through an epoch.

    It is a :class:`~torch.utils.data.DistributedSampler`, so Lightning keeps it under DDP
    instead of wrapping it (each rank draws its own shard of the same permutation) and calls
    :meth:`set_epoch` before every epoch. :class:`ResumableDataLoader` sets :attr:`resume_at`
    from a checkpoint; the skip applies only when the epoch being drawn is the epoch it was
    recorded in, so a checkpoint taken at an epoch's end never skips into the next epoch.
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
        indices = torch.randperm(len(self.dataset), generator=generator)  # type: ignore[arg-type]
        if self.total_size > len(indices):  # pad (not drop_last) so every rank gets num_samples
            indices = indices.repeat(math.ceil(self.total_size / len(indices)))
        indices = indices[: self.total_size][self.rank :: self.num_replicas]
        resume, self.resume_at = self.resume_at, None
        self.started_at = resume[1] if resume is not None and resume[0] == self.epoch else 0
        return indices[self.started_at :]


class ResumablePosition:
    """The saved position of a training loader over an :class:`EpochSampler` (see
    :class:`ResumableDataLoader`); a mixin, so the device-resident loader saves it the same way.

    Needs ``sampler``, ``batch_size``, ``epoch_batches``, ``batches_done`` and ``__len__``.
    """

    sampler: Any
    batch_size: int | None
    epoch_batches: Callable[[], float] | None
    batches_done: int

    def state_dict(self) -> dict[str, int]:
        sampler: EpochSampler = self.sampler
        per_epoch = self.epoch_batches() if self.epoch_batches is not None else len(self)  # type: ignore[arg-type]
        if self.batches_done >= min(per_epoch, len(self)):  # type: ignore[arg-type]
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

    def __iter__(self) -> Iterator[Any]:
        sampler: EpochSampler = self.sampler  # type: ignore[assignment]
        if self.generator is not None:  # worker seeds per (seed, epoch) too, not per process start
            self.generator.manual_seed(epoch_seed(sampler.seed, sampler.epoch) + 1)
        started = False
        for batch in super().__iter__():
            if not started:  # the sampler has started drawing: it knows what it skipped
                self.batches_done = sampler.started_at // self.batch_size  # type: ignore[operator]
                started = True
            self.batches_done += 1
            yield batch


def rotate_images(images: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotate each image by its own angle (bilinear, zero fill), on whatever device it lives."""
    import kornia.geometry.transform as KT

    return KT.rotate(images, angles_deg.to(images.dtype))


class ImageDataModule(L.LightningDataModule):
    """Base DataModule: seeded splits, rotated test set, statistics and loaders.

    Args:
        data_dir: where dataset files live (unused by embedded datasets).
        batch_size: per-process batch size.
        val_fraction: fraction of the training split held out for validation when the
            dataset has no official validation split.
        seed: seeds the split and the rotated test angles; the same seed gives the same data.
        num_workers: DataLoader workers (0 is right for in-memory tensors).
        rotated_test_max_angle: test images are also served rotated by a seeded angle drawn
            uniformly in [-max, max] degrees, for robustness evaluation.
        train_subset: keep only this many training images (None = all), for quick studies.
        device_resident: hold the training split on the training device and cut batches there
            (:class:`~structured_ssl.data.device_loader.DeviceBatches`): no DataLoader worker and
            no host-to-device copy per step; the same batches in the same order, resumable.
    """

    #: stage names of the extra evaluation sets, in dataloader order for ``test``.
    test_sets: tuple[str, ...] = ("test", "test_rotated")
    #: whether :meth:`load_arrays` reads files under ``data_dir`` (embedded datasets: False),
    #: so the CLI can name a missing ``data.data_dir`` before anything starts.
    needs_files: ClassVar[bool] = True

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 256,
        val_fraction: float = 0.15,
        seed: int = 0,
        num_workers: int = 0,
        rotated_test_max_angle: float = 180.0,
        train_subset: int | None = None,
        device_resident: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
        if train_subset is not None and train_subset < 1:
            raise ValueError(f"data.train_subset must be >= 1 or null, got {train_subset}")
        self.data_dir = Path(data_dir)
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_workers = num_workers
        self.rotated_test_max_angle = rotated_test_max_angle
        self.train_subset = train_subset
        self.device_resident = bool(device_resident)
        self._datasets: dict[str, TensorDataset] | None = None

    # ----------------------------------------------------------------- to implement
    def load_arrays(self) -> Splits:
        """Return the dataset's splits as tensors (see :class:`Splits`)."""
        raise NotImplementedError

    @property
    def info(self) -> DataInfo:
        """Channels, image size, classes and normalisation statistics (without loading)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- shared logic
    @property
    def channels(self) -> int:
        return self.info.channels

    @property
    def image_size(self) -> int:
        return self.info.image_size

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    def check_files(self) -> None:
        """Check, without reading the whole dataset, that its files are present and in the
        expected format (header and length where the format states them); run before the
        model is built when ``download`` is off. Raises DatasetNotFoundError/DatasetFormatError.
        Subclasses extend it; the base checks only the folder."""
        self.check_data_dir()

    def check_data_dir(self) -> None:
        """Fail early with the path when a file-based dataset's directory does not exist."""
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise FileNotFoundError(
                f"data.data_dir={str(self.data_dir)!r} is a file, expected a folder"
            )
        if not self.data_dir.is_dir():
            raise FileNotFoundError(
                f"data.data_dir={str(self.data_dir)!r} does not exist; expected a directory "
                f"holding the {type(self).__name__} files (create it, or point data_dir at it)"
            )

    def setup(self, stage: str | None = None) -> None:
        if self._datasets is not None:
            return
        splits = self.load_arrays()
        generator = torch.Generator().manual_seed(self.seed)
        train_x, train_y = splits.train
        if splits.val is None:
            order = torch.randperm(len(train_x), generator=generator)
            n_val = max(1, int(round(self.val_fraction * len(train_x))))
            val_idx, train_idx = order[:n_val], order[n_val:]
            val_x, val_y = train_x[val_idx], train_y[val_idx]
            train_x, train_y = train_x[train_idx], train_y[train_idx]
        else:
            val_x, val_y = splits.val
        if self.train_subset is not None:
            keep = torch.randperm(len(train_x), generator=generator)[: self.train_subset]
            train_x, train_y = train_x[keep], train_y[keep]
        test_x, test_y = splits.test
        angles = (
            torch.rand(len(test_x), generator=generator) * 2 - 1
        ) * self.rotated_test_max_angle
        rotated_x = rotate_images(test_x, angles)
        self._datasets = {
            "train": TensorDataset(train_x, train_y),
            "val": TensorDataset(val_x, val_y),
            "test": TensorDataset(test_x, test_y),
            "test_rotated": TensorDataset(rotated_x, test_y),
        }

    def dataset(self, name: str) -> TensorDataset:
        """One split by name: train, val, test or test_rotated."""
        self.setup()
        assert self._datasets is not None
        return self._datasets[name]

    def _loader(self, name: str, shuffle: bool, drop_last: bool = False) -> DataLoader:
        # An explicit generator also for evaluation loaders: without one, creating a loader's
        # iterator draws from the GLOBAL torch RNG, so each validation would shift the random
        # stream the training steps see, and a resumed run would not match an uninterrupted one.
        return DataLoader(
            self.dataset(name),
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> Any:
        """The shuffled training loader, resumable mid-epoch (see :class:`ResumableDataLoader`),
        or with ``device_resident`` its device-side twin."""
        dataset = self.dataset("train")
        trainer = self.trainer
        replicas, rank = (
            (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        )
        # drop_last: contrastive losses and batch norms need full, equal batches on every rank.
        drop = len(dataset) >= self.batch_size * replicas
        sampler = EpochSampler(
            dataset, num_replicas=replicas, rank=rank, seed=self.seed, drop_last=drop
        )
        if self.device_resident:
            from structured_ssl.data.device_loader import DeviceBatches

            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            images, labels = dataset.tensors
            return DeviceBatches(
                images,
                labels,
                sampler=sampler,
                batch_size=self.batch_size,
                drop_last=drop,
                epoch_batches=self._epoch_batches,
                device=device,
            )
        return ResumableDataLoader(
            dataset,
            sampler=sampler,
            epoch_batches=self._epoch_batches,
            batch_size=self.batch_size,
            drop_last=drop,
            num_workers=self.num_workers,
            generator=torch.Generator(),
            persistent_workers=self.num_workers > 0,
        )

    def _epoch_batches(self) -> float:
        """Batches per epoch as the trainer counts them (after ``limit_train_batches``)."""
        trainer = self.trainer
        return float(trainer.num_training_batches) if trainer is not None else float("inf")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(name, shuffle=False) for name in self.test_sets]

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
