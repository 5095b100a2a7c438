"""A folder of the researcher's own images as a data module (read with Pillow).

Layouts, decided by what ``data_dir`` holds:

* ``data_dir/<class>/*.png``: labelled; classes are the subfolder names in sorted order;
  val and test are seeded shares of the images (``val_fraction``, ``test_fraction``).
* ``data_dir/train/<class>/...`` and ``data_dir/test/<class>/...`` (and optionally
  ``data_dir/val/<class>/...``): labelled with official splits.
* ``data_dir/*.png`` (no subfolders): unlabelled, for pretraining only (``fit`` without
  evaluation; ``validate``/``test`` are refused in one line).

Everything else (lazy loading, resizing, splits, sampler, resume, evaluation) is
[`DatasetDataModule`][structured_ssl.data.any_dataset.DatasetDataModule]'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from structured_ssl.data.any_dataset import UNLABELLED, DatasetDataModule

#: file name endings read as images (case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def image_files(directory: Path) -> list[Path]:
    """The image files directly in ``directory``, sorted by name (a fixed order for seeding)."""
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


class FolderImages(Dataset):
    """``(PIL image, label)`` for every image under ``root``: one class per subfolder, or
    `UNLABELLED` images directly in ``root`` when it has no subfolders with images."""

    def __init__(self, root: str | Path, classes: list[str] | None = None) -> None:
        self.root = Path(root)
        found = sorted(d.name for d in self.root.iterdir() if d.is_dir() and image_files(d))
        self.classes = list(classes) if classes is not None else found
        if self.classes:
            self.files = [
                (f, i)
                for i, name in enumerate(self.classes)
                if (self.root / name).is_dir()
                for f in image_files(self.root / name)
            ]
        else:
            self.files = [(f, UNLABELLED) for f in image_files(self.root)]
        if not self.files:
            raise ValueError(
                f"data.data_dir={str(self.root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}) "
                "directly or in class subfolders"
            )
        self.targets = [label for _, label in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        path, label = self.files[index]
        with Image.open(path) as image:
            image.load()
            return image, label


class ImageFolderDataModule(DatasetDataModule):
    """A folder of images, with class subfolders (labelled) or without (pretraining only).

    Args:
        data_dir: the folder (see the module docstring for the layouts).
        image_size, resize_to, channels, test_fraction: see
            [`DatasetDataModule`][structured_ssl.data.any_dataset.DatasetDataModule].
        **kwargs: batch_size, val_fraction, seed, num_workers, rotated_test_max_angle,
            train_subset: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    needs_files = True  # the CLI names a missing data_dir before anything is built

    def __init__(
        self,
        data_dir: str = "images",
        image_size: int = 33,
        resize_to: int | None = None,
        channels: int | None = None,
        test_fraction: float = 0.15,
        batch_size: int = 128,
        val_fraction: float = 0.15,
        seed: int = 0,
        num_workers: int = 0,
        rotated_test_max_angle: float = 180.0,
        train_subset: int | None = None,
    ) -> None:
        root = Path(data_dir)
        if not root.is_dir():
            raise ValueError(
                f"data.data_dir={str(root)!r} is not a directory; point it at a folder of images"
            )
        splits = {
            d.name: d for d in root.iterdir() if d.is_dir() and d.name in ("train", "val", "test")
        }
        if "train" in splits and "test" in splits:
            train = FolderImages(splits["train"])
            val = FolderImages(splits["val"], train.classes) if "val" in splits else None
            test = FolderImages(splits["test"], train.classes)
        else:
            train, val, test = FolderImages(root), None, None
        super().__init__(
            train=train, val=val, test=test, image_size=image_size, resize_to=resize_to, channels=channels,
            num_classes=max(2, len(train.classes)) if train.classes else None, test_fraction=test_fraction,
            batch_size=batch_size, val_fraction=val_fraction, seed=seed, num_workers=num_workers,
            rotated_test_max_angle=rotated_test_max_angle, train_subset=train_subset, data_dir=data_dir,
        )  # fmt: skip
        self.classes = train.classes

    def describe(self) -> str:
        return f"ImageFolderDataModule(data_dir={str(self.data_dir)!r}, no class subfolders)"
