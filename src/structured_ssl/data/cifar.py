"""CIFAR-10 from the official python-pickle batches.

Expected at ``<data_dir>/cifar-10-batches-py/`` (``data_batch_1`` .. ``data_batch_5``,
``test_batch``). When only the archive ``<data_dir>/cifar-10-python.tar.gz`` is there (or
``download`` fetches it) it is extracted, refusing links and paths that leave the folder.
The batches are unpickled with an allow-list of the few numpy classes they need, so a
tampered file cannot run code.
"""

from __future__ import annotations

import pickle
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from structured_ssl.data.base import PaddedDataModule, Splits, Statistics
from structured_ssl.data.download import (
    DatasetFormatError,
    DatasetNotFoundError,
    fetch_file,
    not_found_message,
)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)

# What the official pickles reference (numpy 1.x and 2.x module paths).
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch: images uint8 ``(N, 3, 32, 32)`` and labels int64 ``(N,)``."""
    try:
        with open(path, "rb") as f:
            batch = _SafeUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as err:  # unpickling raises many types on corrupt input
        raise DatasetFormatError(f"{path}: not a readable CIFAR batch ({err})") from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetFormatError(f"{path}: expected a dict with b'data' and b'labels', got {keys}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetFormatError(
            f"{path}: b'data' should be uint8 (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(data) or labels.dtype.kind not in "iu":
        raise DatasetFormatError(
            f"{path}: b'labels' should be {len(data)} integers, got {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetFormatError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _extract_folder(archive: Path, folder: str, dest: Path) -> None:
    """Extract the regular files under ``folder/`` of ``archive`` into ``dest/folder``.

    Extracts into a temporary directory first and renames it into place, so a failure never
    leaves a partial folder. Absolute paths, ``..``, links and devices are refused.
    """
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=f".{folder}.", suffix=".part"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise DatasetFormatError(f"{archive}: unsafe path {member.name!r} in archive")
                if not name.parts or name.parts[0] != folder or member.isdir():
                    continue
                if not member.isfile():
                    raise DatasetFormatError(
                        f"{archive}: refusing non-regular member {member.name!r} (link or device)"
                    )
                target = tmp.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
        if not (tmp / folder).is_dir():
            raise DatasetFormatError(f"{archive}: holds no {folder}/ folder")
        try:
            (tmp / folder).replace(dest / folder)
        except OSError:
            if not (dest / folder).is_dir():  # else another process extracted it first
                raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        if isinstance(err, FileNotFoundError) and not archive.exists():
            raise
        raise DatasetFormatError(f"{archive}: cannot be extracted ({err})") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cifar10_folder(root: str | Path, download: bool) -> Path:
    """The extracted ``cifar-10-batches-py`` folder, extracting (or fetching) the archive."""
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    if folder.is_dir():
        return folder
    archive = root / CIFAR10_ARCHIVE
    if not archive.is_file() and not download:
        raise DatasetNotFoundError(
            not_found_message([folder, archive], CIFAR10_URL, what="CIFAR-10 folder or archive")
        )
    fetch_file(archive, CIFAR10_URL, CIFAR10_MD5, download)
    _extract_folder(archive, CIFAR10_FOLDER, root)
    return folder


def load_cifar10(root: str | Path, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images uint8 ``(N, 3, 32, 32)`` and labels int64 ``(N,)``."""
    folder = cifar10_folder(root, download)
    names = CIFAR10_TRAIN if train else CIFAR10_TEST
    missing = [folder / n for n in names if not (folder / n).is_file()]
    if missing:
        raise DatasetNotFoundError(
            not_found_message(missing, CIFAR10_URL, what="CIFAR-10 batch")
            + f" The folder {folder} exists but is incomplete: delete it to re-extract."
        )
    batches = [read_cifar_batch(folder / n) for n in names]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


class CIFAR10DataModule(PaddedDataModule):
    """CIFAR-10: 32x32 natural colour images, where equivariance meets texture and clutter.

    The 50,000 training images are split into train/val by ``val_fraction``; the 10,000
    official test images are the test set. ``image_size`` pads them (see
    [`PaddedDataModule`][structured_ssl.data.base.PaddedDataModule]).

    Args:
        download: fetch and extract the archive into ``data_dir`` when it is missing.
        **kwargs: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    #: per-channel mean and (pixel-level) std of the training set
    statistics = Statistics(
        channels=3, num_classes=10, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)
    )

    native_size = 32

    def __init__(
        self,
        download: bool = False,
        val_fraction: float = 0.1,
        image_size: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_size=image_size, val_fraction=val_fraction, **kwargs)
        self.download = download

    def prepare_data(self) -> None:
        # One process per node fetches and extracts; the others then find the folder.
        if self.download:
            cifar10_folder(self.data_dir, download=True)

    def check_files(self) -> None:
        """The extracted batches are present and each unpickles safely with the right shape
        (or, before extraction, the archive is present)."""
        super().check_files()
        folder = self.data_dir / CIFAR10_FOLDER
        if not folder.is_dir():
            cifar10_folder(self.data_dir, download=False)  # raises unless the archive is there
            return
        for name in (*CIFAR10_TRAIN, *CIFAR10_TEST):
            if not (folder / name).is_file():
                raise DatasetNotFoundError(
                    not_found_message([folder / name], CIFAR10_URL, what="CIFAR-10 batch")
                    + f" The folder {folder} exists but is incomplete: delete it to re-extract."
                )
            read_cifar_batch(folder / name)

    def load_arrays(self) -> Splits:
        return Splits(
            train=self.padded(*load_cifar10(self.data_dir, train=True, download=self.download)),
            test=self.padded(*load_cifar10(self.data_dir, train=False, download=self.download)),
        )
