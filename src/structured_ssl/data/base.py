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

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


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
    """

    #: stage names of the extra evaluation sets, in dataloader order for ``test``.
    test_sets: tuple[str, ...] = ("test", "test_rotated")

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 256,
        val_fraction: float = 0.15,
        seed: int = 0,
        num_workers: int = 0,
        rotated_test_max_angle: float = 180.0,
        train_subset: int | None = None,
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

    def check_data_dir(self) -> None:
        """Fail early with the path when a file-based dataset's directory does not exist."""
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
        angles = (torch.rand(len(test_x), generator=generator) * 2 - 1) * self.rotated_test_max_angle
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
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            self.dataset(name),
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=self.num_workers,
            generator=generator,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        # drop_last: contrastive losses and batch norms need full, equal batches on every rank.
        drop = len(self.dataset("train")) >= self.batch_size
        return self._loader("train", shuffle=True, drop_last=drop)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(name, shuffle=False) for name in self.test_sets]

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
