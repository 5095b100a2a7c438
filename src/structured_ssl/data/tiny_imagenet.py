"""Tiny ImageNet (200 classes, 64x64) from the official ``tiny-imagenet-200/`` folder.

Layout: ``wnids.txt``; ``train/<wnid>/images/*.JPEG``; ``val/images/*.JPEG`` with
``val/val_annotations.txt`` (tab-separated: file name, wnid, four box coordinates). The
official test split has no labels, so the official val split serves as our test set and
validation is carved out of train. Class ``k`` is the k-th wnid of ``wnids.txt`` in sorted
order (the order an ImageFolder over ``train/`` would give).

Decoding 110,000 JPEGs takes a while, so the decoded arrays are cached as
``tiny-imagenet-200/decoded_<split>.npz`` (written atomically, rebuilt when the listing of
files changes; delete it to force a rebuild).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from structured_ssl.data.base import PaddedDataModule, Splits, Statistics
from structured_ssl.data.download import (
    DatasetFormatError,
    DatasetNotFoundError,
    cached_arrays,
    not_found_message,
)

TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_IMAGENET_FOLDER = "tiny-imagenet-200"
SPLITS = ("train", "val")
_SUFFIXES = {".jpeg", ".jpg", ".png"}


def read_wnids(folder: Path) -> list[str]:
    """The class ids of ``wnids.txt``, sorted: the index of a wnid is its label."""
    path = folder / "wnids.txt"
    if not path.is_file():
        raise DatasetNotFoundError(not_found_message([path], TINY_IMAGENET_URL, can_download=False))
    wnids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not wnids or len(set(wnids)) != len(wnids):
        raise DatasetFormatError(f"{path}: expected distinct class ids, one per line")
    return sorted(wnids)


def _list_train(folder: Path, wnids: list[str]) -> list[tuple[Path, int]]:
    items = []
    for label, wnid in enumerate(wnids):
        images = folder / "train" / wnid / "images"
        if not images.is_dir():
            raise DatasetFormatError(f"{images}: missing image folder of class {wnid} (wnids.txt)")
        files = sorted(p for p in images.iterdir() if p.suffix.lower() in _SUFFIXES)
        if not files:
            raise DatasetFormatError(f"{images}: no images for class {wnid}")
        items += [(p, label) for p in files]
    return items


def _list_val(folder: Path, wnids: list[str]) -> list[tuple[Path, int]]:
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DatasetFormatError(f"{annotations}: missing (it labels the val images)")
    index = {wnid: label for label, wnid in enumerate(wnids)}
    items = []
    for lineno, line in enumerate(annotations.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or Path(fields[0]).name != fields[0] or not fields[0]:
            raise DatasetFormatError(
                f"{annotations}, line {lineno}: expected 'file<TAB>wnid<TAB>box...', got {line!r}"
            )
        name, wnid = fields[0], fields[1].strip()
        if wnid not in index:
            raise DatasetFormatError(
                f"{annotations}, line {lineno}: wnid {wnid!r} is not in wnids.txt"
            )
        path = folder / "val" / "images" / name
        if not path.is_file():
            raise DatasetFormatError(f"{path}: listed in {annotations} (line {lineno}) but missing")
        items.append((path, index[wnid]))
    if not items:
        raise DatasetFormatError(f"{annotations}: lists no images")
    return items


def _fingerprint(folder: Path, items: list[tuple[Path, int]]) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for path, label in items:
        digest.update(f"{path.relative_to(folder)}\t{label}\t{os.stat(path).st_size}\n".encode())
    return digest.hexdigest()


def _decode(items: list[tuple[Path, int]]) -> dict[str, np.ndarray]:
    """Decode every image; one that is not a 64x64 image is refused by its header, before its
    pixels are decompressed (a decompression bomb never gets to allocate its pixels)."""
    from PIL import Image

    images = np.empty((len(items), 64, 64, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(items):
        try:
            with warnings.catch_warnings():
                # PIL warns above MAX_IMAGE_PIXELS and raises above twice that: both refuse here
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:  # reads the header only
                    size = image.size
                    rgb = image.convert("RGB") if size == (64, 64) else None
        except (
            OSError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as err:
            # OSError includes PIL.UnidentifiedImageError (not an image at all)
            raise DatasetFormatError(f"{path}: cannot decode image ({err})") from err
        if rgb is None:
            raise DatasetFormatError(f"{path}: image is {size}, expected (64, 64)")
        images[i] = np.asarray(rgb)
    labels = np.array([label for _, label in items], dtype=np.int64)
    return {"images": np.ascontiguousarray(images.transpose(0, 3, 1, 2)), "labels": labels}


def load_tiny_imagenet(
    root: str | Path, split: str, cache: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(N, 3, 64, 64)`` and labels int64 ``(N,)`` of the official split.

    Args:
        root: directory holding ``tiny-imagenet-200/``.
        split: ``"train"`` or ``"val"`` (the official test split has no labels).
        cache: read/write the decoded arrays as ``decoded_<split>.npz`` inside the folder.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} must be one of {SPLITS} (official test is unlabelled)")
    folder = Path(root) / TINY_IMAGENET_FOLDER
    if not folder.is_dir():
        raise DatasetNotFoundError(
            not_found_message([folder], TINY_IMAGENET_URL, what="folder", can_download=False)
        )
    wnids = read_wnids(folder)
    items = _list_train(folder, wnids) if split == "train" else _list_val(folder, wnids)
    if not cache:
        arrays = _decode(items)
    else:
        fingerprint = _fingerprint(folder, items)
        arrays = cached_arrays(folder / f"decoded_{split}.npz", fingerprint, lambda: _decode(items))
    return np.asarray(arrays["images"]), np.asarray(arrays["labels"])


class TinyImageNetDataModule(PaddedDataModule):
    """Tiny ImageNet: 200 classes at 64x64, a step up from CIFAR towards natural images.

    The official val split (50 images per class) is the test set; validation is carved out
    of the 100,000 training images by ``val_fraction``. The files must be downloaded and
    unzipped into ``data_dir`` by hand. ``image_size`` pads the images (see
    [`PaddedDataModule`][structured_ssl.data.base.PaddedDataModule]).

    Args:
        **kwargs: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    #: commonly used per-channel statistics of the Tiny ImageNet training set
    statistics = Statistics(
        channels=3, num_classes=200, mean=(0.4802, 0.4481, 0.3975), std=(0.2770, 0.2691, 0.2821)
    )

    native_size = 64

    def __init__(self, val_fraction: float = 0.1, image_size: int = 64, **kwargs: Any) -> None:
        super().__init__(image_size=image_size, val_fraction=val_fraction, **kwargs)

    def prepare_data(self) -> None:
        # Decode once on one process per node and cache; setup then reads the caches.
        for split in SPLITS:
            load_tiny_imagenet(self.data_dir, split)

    def check_files(self) -> None:
        """The folder, its class list and the train/val folders are present (images are
        decoded, and checked one by one, when the data is set up)."""
        super().check_files()
        folder = self.data_dir / TINY_IMAGENET_FOLDER
        if not folder.is_dir():
            raise DatasetNotFoundError(
                not_found_message([folder], TINY_IMAGENET_URL, what="folder", can_download=False)
            )
        read_wnids(folder)
        for part in ("train", "val"):
            if not (folder / part).is_dir():
                raise DatasetFormatError(
                    f"{folder / part}: missing (the unzipped archive holds train/ and val/)"
                )

    def load_arrays(self) -> Splits:
        return Splits(
            train=self.padded(*load_tiny_imagenet(self.data_dir, "train")),
            test=self.padded(*load_tiny_imagenet(self.data_dir, "val")),
        )
