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
from structured_ssl.data.download import DatasetFormatError
from structured_ssl.data.image_files import check_image, open_image

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

    def __init__(
        self, root: str | Path, classes: list[str] | None = None, field: str | None = None
    ) -> None:
        self.root = Path(root)
        #: how an error names the folder: the setting it came from (``data.data_dir='...'``)
        self.field = field or f"data.data_dir={str(self.root)!r}"
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
        path, label = self.files[index]
        try:
            return open_image(path), label
        except DatasetFormatError as error:  # changed since the check before the run
            raise DatasetFormatError(f"{self.field}: {error}") from None

    def check(self) -> None:
        """Every file's header (and PNG checksums) once: the first bad one, by name, one line."""
        for path, _ in self.files:
            try:
                check_image(path)
            except DatasetFormatError as error:
                raise DatasetFormatError(f"{self.field}: {error}") from None


class ImageFolderDataModule(DatasetDataModule):
    """A folder of images, with class subfolders (labelled) or without (pretraining only).

    Args:
        data_dir: the folder (see the module docstring for the layouts).
        test_fraction, val_fraction: the seeded shares held out for testing and validation
            where the folder has no official splits.
        **kwargs: image_size, resize_to, channels, batch_size: see
            [`DatasetDataModule`][structured_ssl.data.any_dataset.DatasetDataModule];
            seed, num_workers, rotated_test_max_angle, train_subset: see
            [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    needs_files = True  # the CLI names a missing data_dir before anything is built
    #: the images, splits and classes come from the folder
    filled_arguments = ("train", "val", "test", "num_classes")

    def __init__(
        self,
        data_dir: str = "images",
        test_fraction: float = 0.15,
        val_fraction: float = 0.15,
        **kwargs: Any,
    ) -> None:
        root = Path(data_dir)
        if not root.is_dir():
            raise ValueError(
                f"data.data_dir={str(root)!r} is not a directory; point it at a folder of images"
            )
        splits = {
            d.name: d for d in root.iterdir() if d.is_dir() and d.name in ("train", "val", "test")
        }
        field = f"data.data_dir={str(data_dir)!r}"
        if "train" in splits and "test" in splits:
            train = FolderImages(splits["train"], field=field)
            val = FolderImages(splits["val"], train.classes, field) if "val" in splits else None
            test = FolderImages(splits["test"], train.classes, field)
            check_split_classes(field, train, [s for s in (val, test) if s is not None])
        else:
            train, val, test = FolderImages(root, field=field), None, None
        check_classes_and_count(field, train, val, test, test_fraction, val_fraction)
        super().__init__(
            train=train,
            val=val,
            test=test,
            num_classes=max(2, len(train.classes)) if train.classes else None,
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            data_dir=data_dir,
            **kwargs,
        )
        self.classes = train.classes

    def check_files(self) -> None:
        """Once before a run (the CLI calls it before the build): the folder, then every image
        file's header, size and mode (and a PNG's chunk checksums): a bad file ends the run
        before it starts, named. Costs about a millisecond per small file
        (docs/guides/own-data.md gives the measured figure)."""
        super().check_files()
        for source in self.sources.values():
            if isinstance(source, FolderImages):
                source.check()

    def describe(self) -> str:
        return f"ImageFolderDataModule(data_dir={str(self.data_dir)!r}, no class subfolders)"


def check_split_classes(field: str, train: FolderImages, others: list[FolderImages]) -> None:
    """Official val/test splits hold only classes the training split has (else their labels
    would be indices of another class list)."""
    for split in others:
        extra = sorted(
            d.name
            for d in split.root.iterdir()
            if d.is_dir() and image_files(d) and d.name not in train.classes
        )
        if extra:
            raise ValueError(
                f"{field}: {split.root.name}/ has class folder(s) {', '.join(extra)} that train/ "
                f"lacks; expected the classes of train/ ({', '.join(train.classes)})"
            )


def check_classes_and_count(
    field: str,
    train: FolderImages,
    val: FolderImages | None,
    test: FolderImages | None,
    test_fraction: float,
    val_fraction: float,
) -> None:
    """A labelled folder has at least 2 classes (a linear evaluation of one class reports 100 %)
    and leaves at least 2 training images after the seeded val and test shares."""
    if len(train.classes) == 1:
        raise ValueError(
            f"{field} holds one class folder ({train.classes[0]}/); a labelled folder needs at "
            "least 2 classes (linear evaluation of one class always scores 100 %): add class "
            "folders, or put the images directly in data_dir to pretrain without labels "
            "(configs/datasets/image_folder_pretrain.yaml)"
        )
    n = len(train)
    left = n
    if train.classes and test is None:
        left -= max(1, int(round(test_fraction * left)))
    if train.classes and val is None:
        left -= max(1, int(round(val_fraction * left)))
    if left < 2 and 0 < test_fraction < 1 and 0 < val_fraction < 1:
        raise ValueError(
            f"{field} holds {n} training image(s); after the val and test shares "
            f"(data.val_fraction={val_fraction}, data.test_fraction={test_fraction}) {left} "
            "would train: expected at least 2"
        )
