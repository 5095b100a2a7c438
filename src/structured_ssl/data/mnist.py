"""MNIST and rotated MNIST, read from the official files with a small IDX parser.

Files live in ``<data_dir>/MNIST/raw/`` (the layout torchvision uses, so an existing download
is reused): ``train-images-idx3-ubyte.gz`` and friends, gzipped or already un-gzipped.
The official MNIST-rot files (``mnist_all_rotation_normalized_float_*.amat``) are looked for
in ``<data_dir>/mnist_rotation_new/`` (where the official zip extracts) or ``<data_dir>/``.
"""

from __future__ import annotations

import gzip
import math
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from structured_ssl.data.base import DataInfo, ImageDataModule, Splits, rotate_images
from structured_ssl.data.download import (
    DatasetFormatError,
    DatasetNotFoundError,
    cached_arrays,
    fetch_file,
    file_fingerprint,
    not_found_message,
)

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
#: (split, kind) -> (file name, md5 of the gzipped file)
MNIST_FILES: dict[tuple[str, str], tuple[str, str]] = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
MNIST_ROT_URL = "http://www.iro.umontreal.ca/~lisa/icml2007data/mnist_rotation_new.zip"
MNIST_ROT_FILES = {
    "train": "mnist_all_rotation_normalized_float_train_valid.amat",
    "test": "mnist_all_rotation_normalized_float_test.amat",
}

# IDX type codes (third magic byte) -> big-endian numpy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# MNIST pixel statistics at 28x28 (values in [0, 1]); padding dilutes them (see info).
_MNIST_MEAN, _MNIST_STD = 0.1307, 0.3081


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a native-endian numpy array.

    Format: two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension and the row-major payload.

    Raises:
        DatasetFormatError: unreadable gzip, wrong magic, or a payload of the wrong length.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"IDX file {path} does not exist")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetFormatError(f"{path}: cannot be read ({type(err).__name__}: {err})") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DatasetFormatError(
            f"{path}: not an IDX file (magic bytes {data[:4].hex(' ') or 'missing'}; expected "
            "00 00 <type code 08/09/0b/0c/0d/0e> <ndim>)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetFormatError(f"{path}: IDX header truncated or empty (ndim={ndim})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(data) - header != expected:
        problem = "truncated" if len(data) - header < expected else "has trailing bytes"
        raise DatasetFormatError(
            f"{path}: payload {problem}: header promises dims {dims} ({expected} bytes) "
            f"but {len(data) - header} bytes follow"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def check_idx(path: Path) -> None:
    """The header and length of an IDX file (raw or ``.gz``) without reading its payload: the
    length of a gzip member is its trailer's ISIZE (mod 2**32; MNIST files are far smaller)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                head = f.read(4 + 4 * 4)
            with open(path, "rb") as f:
                f.seek(-4, 2)
                size = struct.unpack("<I", f.read(4))[0]
        else:
            with open(path, "rb") as f:
                head = f.read(4 + 4 * 4)
            size = path.stat().st_size
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetFormatError(f"{path}: cannot be read ({type(err).__name__}: {err})") from err
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES or head[3] == 0:
        raise DatasetFormatError(
            f"{path}: not an IDX file (magic bytes {head[:4].hex(' ') or 'missing'})"
        )
    header = 4 + 4 * head[3]
    if len(head) < header:
        raise DatasetFormatError(f"{path}: IDX header truncated or empty (ndim={head[3]})")
    dims = struct.unpack(f">{head[3]}I", head[4:header])
    expected = header + math.prod(dims) * np.dtype(_IDX_DTYPES[head[2]]).itemsize
    if size != expected % 2**32:
        raise DatasetFormatError(
            f"{path}: {'truncated' if size < expected else 'has trailing bytes'}: its header promises dims "
            f"{dims} ({expected} bytes with the header) but it holds {size}"
        )


def mnist_dir(root: str | Path) -> Path:
    """Where the MNIST files are expected: ``root/MNIST/raw``."""
    return Path(root) / "MNIST" / "raw"


def fetch_mnist(root: str | Path, split: str, kind: str, download: bool) -> Path:
    """Path of one MNIST file, preferring an existing un-gzipped copy, else fetching the .gz."""
    name, md5 = MNIST_FILES[(split, kind)]
    raw = mnist_dir(root) / name.removesuffix(".gz")
    if raw.is_file():
        return raw
    return fetch_file(mnist_dir(root) / name, MNIST_URL + name, md5, download)


def load_mnist(root: str | Path, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images uint8 ``(N, 28, 28)`` and labels int64 ``(N,)`` from ``root/MNIST/raw``."""
    split = "train" if train else "test"
    images_path = fetch_mnist(root, split, "images", download)
    labels_path = fetch_mnist(root, split, "labels", download)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetFormatError(
            f"{images_path}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise DatasetFormatError(
            f"{labels_path}: expected {len(images)} uint8 labels, got {labels.dtype} {labels.shape}"
        )
    if labels.size and int(labels.max()) > 9:
        raise DatasetFormatError(f"{labels_path}: label {int(labels.max())} is not a digit")
    return images, labels.astype(np.int64)


def read_amat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse an MNIST-rot ``.amat``: per line 784 pixel floats then the label."""
    images, labels = [], []
    with open(path) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fromstring on a malformed line
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = np.fromstring(line, dtype=np.float32, sep=" ")
            label = float(row[-1]) if len(row) == 785 else -1.0
            if not (label.is_integer() and 0 <= label <= 9):
                raise DatasetFormatError(
                    f"{path}, line {lineno}: expected 784 pixel values and a digit label, "
                    f"got {len(row)} numbers ending in {row[-1] if len(row) else 'nothing'}"
                )
            images.append(row[:784])
            labels.append(int(label))
    if not images:
        raise DatasetFormatError(f"{path}: no data lines")
    pixels = np.stack(images).reshape(-1, 28, 28).clip(0.0, 1.0)
    return pixels, np.asarray(labels, dtype=np.int64)


def find_mnist_rot(root: str | Path, train: bool) -> Path:
    """The official MNIST-rot ``.amat`` of a split, where the zip extracts or in ``root``."""
    name = MNIST_ROT_FILES["train" if train else "test"]
    candidates = [Path(root) / "mnist_rotation_new" / name, Path(root) / name]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetNotFoundError(
            not_found_message(candidates, MNIST_ROT_URL, what="MNIST-rot file", can_download=False)
        )
    return path


def load_mnist_rot(root: str | Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Official MNIST-rot: images float32 ``(N, 28, 28)`` in [0, 1], labels int64.

    ``train=True`` gives the 12,000 train+valid digits, ``False`` the 50,000 test digits.
    The parsed arrays are cached as ``.npz`` beside the ``.amat`` (parsing takes a while).
    """
    path = find_mnist_rot(root, train)

    def build() -> dict[str, np.ndarray]:
        images, labels = read_amat(path)
        return {"images": images, "labels": labels}

    cache = path.with_name(path.stem + ".npz")
    arrays = cached_arrays(cache, file_fingerprint(path), build)
    return np.asarray(arrays["images"]), np.asarray(arrays["labels"])


def pad_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad ``(N, C, h, w)`` images to ``size`` x ``size`` (extra pixel after, if odd)."""
    ph, pw = size - images.shape[-2], size - images.shape[-1]
    return F.pad(images, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class MNISTDataModule(ImageDataModule):
    """MNIST from the official IDX files, zero-padded so that rotations keep the digit.

    The default 29 is odd, so the rotation centre falls on a pixel and stride-2 layers stay
    exactly equivariant. The 60,000 training digits are split into train/val by
    ``val_fraction``; the 10,000 official test digits are the test set.

    Args:
        image_size: side of the padded image (>= 28).
        download: fetch missing files from the official mirror into ``data_dir/MNIST/raw``.
        **kwargs: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    def __init__(self, image_size: int = 29, download: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if image_size < 28:
            raise ValueError(
                f"data.image_size={image_size} is smaller than 28, the side of an MNIST digit"
            )
        self.image_size_ = image_size
        self.download = download

    @property
    def info(self) -> DataInfo:
        # MNIST's 28x28 statistics, diluted by the zero padding (exact for mean and std).
        share = 28 * 28 / self.image_size_**2
        mean = _MNIST_MEAN * share
        second_moment = (_MNIST_STD**2 + _MNIST_MEAN**2) * share
        std = math.sqrt(second_moment - mean**2)
        return DataInfo(
            channels=1, image_size=self.image_size_, num_classes=10, mean=(mean,), std=(std,)
        )

    def prepare_data(self) -> None:
        # Runs on one process per node: download there, so ranks do not race.
        if self.download:
            for split, kind in MNIST_FILES:
                fetch_mnist(self.data_dir, split, kind, download=True)

    def check_files(self) -> None:
        """The four IDX files are present, with a valid header and the length it promises."""
        super().check_files()
        for split, kind in MNIST_FILES:
            check_idx(fetch_mnist(self.data_dir, split, kind, download=False))

    def load_split(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """One official split as padded float tensors ``(N, 1, S, S)`` and int64 labels."""
        images, labels = load_mnist(self.data_dir, train=train, download=self.download)
        x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
        return pad_to(x, self.image_size_), torch.from_numpy(labels)

    def load_arrays(self) -> Splits:
        return Splits(train=self.load_split(train=True), test=self.load_split(train=False))


class RotatedMNISTDataModule(MNISTDataModule):
    """MNIST with every digit rotated, the classic benchmark for rotation-equivariant models.

    ``source="seeded"`` rotates each MNIST digit (train and test) by its own angle drawn
    uniformly in [0, 360) from ``seed``, so it needs only the MNIST files. ``"official"`` reads
    the MNIST-rot ``.amat`` files (12,000 train+valid, 50,000 test; fetch and unzip them by
    hand); their 12,000 training digits are split into train/val by ``val_fraction``.

    Args:
        source: ``"seeded"`` or ``"official"``.
        **kwargs: see [`MNISTDataModule`][structured_ssl.data.mnist.MNISTDataModule].
    """

    SOURCES = ("seeded", "official")

    def __init__(self, source: Literal["seeded", "official"] = "seeded", **kwargs: Any) -> None:
        if source not in self.SOURCES:
            raise ValueError(f"data.source={source!r} must be one of {self.SOURCES}")
        super().__init__(**kwargs)
        self.source = source

    def prepare_data(self) -> None:
        if self.source == "seeded":
            super().prepare_data()

    def check_files(self) -> None:
        if self.source == "seeded":
            return super().check_files()
        self.check_data_dir()
        for train in (
            True,
            False,
        ):  # the .amat files are plain text: presence is what can be checked cheaply
            find_mnist_rot(self.data_dir, train)

    def load_split(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if self.source == "official":
            images, labels = load_mnist_rot(self.data_dir, train=train)
            x = pad_to(torch.from_numpy(images).unsqueeze(1).float(), self.image_size_)
            return x, torch.from_numpy(labels)
        x, y = super().load_split(train)
        # Independent angle streams per (seed, split), distinct from the base class's split RNG.
        rng = np.random.default_rng([self.seed, 1 if train else 2])
        angles = torch.from_numpy(rng.uniform(0.0, 360.0, size=len(x))).float()
        chunks = [
            rotate_images(x[i : i + 8192], angles[i : i + 8192]) for i in range(0, len(x), 8192)
        ]
        x = torch.cat(chunks) if chunks else x
        return x.clamp_(0.0, 1.0), y
