"""The one DataModule interface every objective shares.

A DataModule yields un-augmented ``(image, label)`` batches: float32 images in [0, 1],
shape ``(B, C, H, W)``, int64 labels. Augmentation never happens here; augmentation-based
objectives augment on the model's device (kornia), so one DataModule serves A-SSL, S-SSL,
Frozen, Supervised and linear evaluation alike, and the loader stays cheap.

A subclass implements only `load_arrays`, returning whole splits as tensors. This base
class owns the seeded train/val split, the seeded rotated test set, normalisation statistics
and the loaders, so every dataset behaves the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from structured_ssl.data.sampling import EpochSampler, ResumableDataLoader, dataset_size


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data, before it sees a batch."""

    channels: int
    image_size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class Statistics:
    """A dataset's channels, classes and normalisation statistics: its
    [`DataInfo`][structured_ssl.data.base.DataInfo] at whatever side it is padded to (the
    statistics only rescale inputs, so they do not follow the padding)."""

    channels: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def at(self, image_size: int) -> DataInfo:
        return DataInfo(self.channels, image_size, self.num_classes, self.mean, self.std)


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


def rotate_images(images: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotate each image by its own angle (bilinear, zero fill), on whatever device it lives."""
    import kornia.geometry.transform as KT

    return KT.rotate(images, angles_deg.to(images.dtype))


class ImageDataModule(L.LightningDataModule):
    """Base DataModule: seeded splits, rotated test set, statistics and loaders.

    Args:
        batch_size: per-process batch size.
        val_fraction: fraction of the training split held out for validation when the
            dataset has no official validation split.
        seed: seeds the split and the rotated test angles; the same seed gives the same data.
        num_workers: DataLoader workers (0 is right for in-memory tensors).
        device_resident: hold the training split on the training device and cut batches there
            ([`DeviceBatches`][structured_ssl.data.device_loader.DeviceBatches]): no DataLoader
            worker and no host-to-device copy per step; the same batches in the same order,
            resumable.
        rotated_test_max_angle: test images are also served rotated by a seeded angle drawn
            uniformly in [-max, max] degrees, for robustness evaluation.
        train_subset: keep only this many training images (None = all), for quick studies.
        data_dir: where dataset files live (unused by embedded datasets).

    A subclass takes its own arguments (and those whose default it changes) and forwards the
    rest with ``**kwargs``, by keyword: the CLI's parser follows ``super().__init__(**kwargs)``
    and offers them as the subclass's.
    """

    #: stage names of the extra evaluation sets, in dataloader order for ``test``.
    test_sets: tuple[str, ...] = ("test", "test_rotated")
    #: whether [`load_arrays`][structured_ssl.data.base.ImageDataModule.load_arrays] reads files
    #: under ``data_dir`` (embedded datasets: False),
    #: so the CLI can name a missing ``data.data_dir`` before anything starts.
    needs_files: ClassVar[bool] = True
    #: the statistics of a dataset whose channels, classes and statistics do not depend on its
    #: settings: [`info`][structured_ssl.data.base.ImageDataModule.info] serves them at the
    #: configured side ``image_size_`` (a subclass sets this, or overrides ``info``).
    statistics: ClassVar[Statistics | None] = None
    #: arguments of a base class that a subclass fills in its own ``super().__init__`` call:
    #: its ``**kwargs`` do not offer them (the CLI reads the same from that call; see
    #: [`init_parameters`][structured_ssl.config.field_checks.init_parameters]).
    filled_arguments: ClassVar[tuple[str, ...]] = ()
    #: the served side, set by each subclass (which owns the ``image_size`` argument)
    image_size_: int

    def __init__(
        self,
        *,
        batch_size: int = 256,
        val_fraction: float = 0.15,
        seed: int = 0,
        num_workers: int = 0,
        device_resident: bool = False,
        rotated_test_max_angle: float = 180.0,
        train_subset: int | None = None,
        data_dir: str = "data",
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
        self._datasets: dict[str, Dataset] | None = None

    # ----------------------------------------------------------------- to implement
    def load_arrays(self) -> Splits:
        """Return the dataset's splits as tensors (see
        [`Splits`][structured_ssl.data.base.Splits])."""
        raise NotImplementedError

    @property
    def info(self) -> DataInfo:
        """Channels, image size, classes and normalisation statistics (without loading)."""
        if self.statistics is None:
            raise NotImplementedError
        return self.statistics.at(self.image_size_)

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

    def dataset(self, name: str) -> Dataset:
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
        """The shuffled training loader, resumable mid-epoch (see
        [`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader]), or with
        ``device_resident`` its device-side twin."""
        dataset = self.dataset("train")
        trainer = self.trainer
        replicas, rank = (
            (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        )
        # drop_last: contrastive losses and batch norms need full, equal batches on every rank.
        drop = dataset_size(dataset, "data.train") >= self.batch_size * replicas
        sampler = EpochSampler(
            dataset, num_replicas=replicas, rank=rank, seed=self.seed, drop_last=drop
        )
        if self.device_resident:
            from structured_ssl.data.device_loader import DeviceBatches

            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            if not isinstance(dataset, TensorDataset):
                raise ValueError(
                    f"data.device_resident needs in-memory tensors; {type(self).__name__} serves "
                    f"a {type(dataset).__name__}"
                )
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


class PaddedDataModule(ImageDataModule):
    """A dataset of uint8 images of one side (``native_size``), served zero-padded to
    ``image_size``: CIFAR-10 (32), Tiny ImageNet (64).

    Args:
        image_size: side after zero padding (>= the dataset's side: 32 for CIFAR-10, 64 for
            Tiny ImageNet); rotation encoders with stride-2 layers are exactly equivariant only
            at sizes 1 + a multiple of their total stride (33, 65), which the config checks
            enforce.
        **kwargs: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    #: the side of the dataset's own images
    native_size: ClassVar[int]

    def __init__(self, image_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_size_ = check_padded_size(image_size, self.native_size)

    def padded(self, images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 ``(N, C, s, s)`` images and int64 labels in the shared format, padded."""
        images_01 = torch.from_numpy(images).float().div_(255.0)
        return pad_images(images_01, self.image_size_), torch.from_numpy(labels)
