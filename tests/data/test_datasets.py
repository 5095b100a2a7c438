"""Real-dataset loaders on tiny files written in the official formats; nothing is downloaded."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from structured_ssl.data import (
    CIFAR10DataModule,
    DatasetFormatError,
    DatasetNotFoundError,
    MNISTDataModule,
    RotatedMNISTDataModule,
    TinyImageNetDataModule,
    cifar,
    mnist,
    tiny_imagenet,
)
from structured_ssl.data.download import fetch_file

# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download attempt fails the test loudly (tests that need one patch over this)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to download: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 6:22, 10:18] = rng.integers(1, 256, size=(n, 16, 8), dtype=np.uint8)
    return images, (np.arange(n) % 10).astype(np.uint8)


def write_mnist(root: Path, n_train: int = 20, n_test: int = 6) -> dict[str, np.ndarray]:
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = digits(n, seed=n)
        write_idx(root / "MNIST" / "raw" / mnist.MNIST_FILES[(split, "images")][0], images)
        write_idx(root / "MNIST" / "raw" / mnist.MNIST_FILES[(split, "labels")][0], labels)
        out[split] = images
    return out


class FakeResponse(io.BytesIO):
    """urlopen's response: a readable context manager, optionally failing mid-stream."""

    def __init__(
        self, data: bytes, fail_after: int | None = None, exc: BaseException | None = None
    ):
        super().__init__(data)
        self.fail_after, self.exc, self.sent = fail_after, exc, 0

    def read(self, size: int | None = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise self.exc or ConnectionResetError("connection reset by peer")
        chunk = super().read(min(size, 64) if size and size > 0 else 64)
        self.sent += len(chunk)
        return chunk


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ----------------------------------------------------------------------------- download


def test_fetch_file_missing_without_download_names_path_url_and_fix(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "file.gz"
    with pytest.raises(DatasetNotFoundError) as err:
        fetch_file(target, "https://example.org/file.gz", None, download=False)
    message = str(err.value)
    assert str(target) in message and "https://example.org/file.gz" in message
    assert "data.download: true" in message and "does not exist" in message


def test_fetch_file_downloads_checks_md5_and_renames(tmp_path: Path, monkeypatch) -> None:
    payload = b"x" * 1000
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    target = tmp_path / "d" / "file.bin"
    fetch_file(target, "https://example.org/f", hashlib.md5(payload).hexdigest(), download=True)
    assert target.read_bytes() == payload and leftovers(target.parent) == ["file.bin"]
    # an existing file is returned as is, without network (urlopen refuses again)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network"))
    assert fetch_file(target, "https://example.org/f", "0" * 32, download=True) == target
    with pytest.raises(DatasetFormatError, match="checksum mismatch"):
        fetch_file(target, "https://example.org/f", "0" * 32, True, verify_existing=True)


def test_fetch_file_checksum_mismatch_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: FakeResponse(b"evil"))
    target = tmp_path / "file.bin"
    with pytest.raises(DatasetFormatError) as err:
        fetch_file(target, "https://example.org/f", "0" * 32, download=True)
    assert str(target) in str(err.value) and "0" * 32 in str(err.value)
    assert hashlib.md5(b"evil").hexdigest() in str(err.value)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [ConnectionResetError("reset"), KeyboardInterrupt()])
def test_interrupted_download_leaves_no_file_and_no_part(tmp_path: Path, monkeypatch, exc) -> None:
    monkeypatch.setattr(
        urllib.request,
        "urlopen",
        lambda *a, **k: FakeResponse(b"y" * 10_000, fail_after=256, exc=exc),
    )
    target = tmp_path / "raw" / "file.bin"
    expected = DatasetNotFoundError if isinstance(exc, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as err:
        fetch_file(target, "https://example.org/f", None, download=True)
    if expected is DatasetNotFoundError:
        assert "https://example.org/f" in str(err.value) and str(target) in str(err.value)
    assert leftovers(target.parent) == []


def test_unreachable_host_becomes_not_found(tmp_path: Path, monkeypatch) -> None:
    def down(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", down)
    with pytest.raises(DatasetNotFoundError, match="Name or service not known"):
        fetch_file(tmp_path / "f", "https://example.org/f", None, download=True)
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- IDX / MNIST


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    images, _ = digits(5, seed=0)
    path = write_idx(tmp_path / ("x.idx.gz" if gz else "x.idx"), images, gz=gz)
    out = mnist.read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28) and np.array_equal(out, images)
    ints = np.arange(6, dtype=">i4").reshape(2, 3)
    assert mnist.read_idx(write_idx(tmp_path / "i.gz", ints)).tolist() == ints.tolist()


@pytest.mark.parametrize(
    "mangle,match",
    [
        (lambda b: b"\x01\x00" + b[2:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b[:6], "header truncated"),
        (lambda b: b"", "not an IDX file"),
    ],
)
def test_read_idx_rejects_bad_files_naming_them(tmp_path: Path, mangle, match) -> None:
    images, _ = digits(3, seed=0)
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mangle(idx_bytes(images)))
    with pytest.raises(DatasetFormatError, match=match) as err:
        mnist.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_truncated_gzip(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "t.gz", digits(4, seed=0)[0])
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetFormatError) as err:
        mnist.read_idx(path)
    assert str(path) in str(err.value)


def test_load_mnist_shapes_and_mismatched_labels(tmp_path: Path) -> None:
    written = write_mnist(tmp_path, n_train=12, n_test=4)
    images, labels = mnist.load_mnist(tmp_path, train=True, download=False)
    assert images.dtype == np.uint8 and images.shape == (12, 28, 28)
    assert labels.dtype == np.int64 and labels.tolist() == [i % 10 for i in range(12)]
    assert np.array_equal(images, written["train"])
    write_idx(tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DatasetFormatError, match="t10k-labels"):
        mnist.load_mnist(tmp_path, train=False, download=False)


def test_mnist_missing_names_path_and_url(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        MNISTDataModule(data_dir=str(tmp_path / "data")).setup()
    message = str(err.value)
    assert str(tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz") in message
    assert mnist.MNIST_URL + "train-images-idx3-ubyte.gz" in message
    assert "data.download: true" in message


def test_mnist_download_end_to_end_with_fake_mirror(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "mirror"
    write_mnist(source, n_train=10, n_test=3)
    files, served = {}, []
    for key, (name, _) in mnist.MNIST_FILES.items():
        data = (source / "MNIST" / "raw" / name).read_bytes()
        files[mnist.MNIST_URL + name] = data
        monkeypatch.setitem(mnist.MNIST_FILES, key, (name, hashlib.md5(data).hexdigest()))

    def serve(url: str, timeout: float | None = None) -> FakeResponse:
        served.append(url)
        return FakeResponse(files[url])

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    dm = MNISTDataModule(data_dir=str(tmp_path / "data"), download=True)
    dm.prepare_data()
    dm.setup()
    assert len(served) == 4
    assert len(dm.dataset("train")) + len(dm.dataset("val")) == 10
    assert leftovers(tmp_path / "data" / "MNIST" / "raw") == sorted(
        n for n, _ in mnist.MNIST_FILES.values()
    )


def test_mnist_datamodule_shapes_range_splits_and_determinism(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=20, n_test=6)
    dm = MNISTDataModule(data_dir=str(tmp_path), batch_size=4, seed=1)
    assert dm.info.channels == 1 and dm.info.image_size == 29 and dm.info.num_classes == 10
    dm.setup()
    x, y = dm.dataset("train").tensors
    assert x.dtype == torch.float32 and x.shape[1:] == (1, 29, 29)
    assert y.dtype == torch.int64 and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(dm.dataset("val")) == 3 and len(x) == 17 and len(dm.dataset("test")) == 6
    assert float(x[..., -1, :].abs().max()) == 0.0  # the padding row is empty
    again = MNISTDataModule(data_dir=str(tmp_path), batch_size=4, seed=1)
    for name in ("train", "val", "test", "test_rotated"):
        assert torch.equal(dm.dataset(name).tensors[0], again.dataset(name).tensors[0])
    other = MNISTDataModule(data_dir=str(tmp_path), batch_size=4, seed=2)
    assert not torch.equal(dm.dataset("val").tensors[1], other.dataset("val").tensors[1])
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (4, 1, 29, 29) and yb.shape == (4,)


def test_mnist_info_is_padding_aware_and_needs_no_files(tmp_path: Path) -> None:
    info28 = MNISTDataModule(data_dir=str(tmp_path / "absent"), image_size=28).info
    info29 = MNISTDataModule(data_dir=str(tmp_path / "absent")).info
    assert info28.mean == pytest.approx((0.1307,)) and info28.std == pytest.approx((0.3081,))
    assert info29.mean[0] < info28.mean[0]


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (MNISTDataModule, {"image_size": 20}, "data.image_size=20 is smaller than 28"),
        (RotatedMNISTDataModule, {"source": "both"}, "data.source"),
        (MNISTDataModule, {"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_init_args_name_the_field(cls, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_rotated_mnist_seeded(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=20, n_test=6)
    plain = MNISTDataModule(data_dir=str(tmp_path), seed=0)
    a = RotatedMNISTDataModule(data_dir=str(tmp_path), seed=0)
    b = RotatedMNISTDataModule(data_dir=str(tmp_path), seed=0)
    c = RotatedMNISTDataModule(data_dir=str(tmp_path), seed=5)
    xa = a.dataset("test").tensors[0]
    assert xa.shape == (6, 1, 29, 29) and 0.0 <= float(xa.min()) and float(xa.max()) <= 1.0
    assert torch.equal(xa, b.dataset("test").tensors[0])
    assert torch.equal(a.dataset("train").tensors[0], b.dataset("train").tensors[0])
    assert not torch.allclose(xa, plain.dataset("test").tensors[0])
    assert not torch.allclose(xa, c.dataset("test").tensors[0])
    assert torch.equal(a.dataset("test").tensors[1], plain.dataset("test").tensors[1])


def write_amat(path: Path, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.random((n, 784)).round(6)
    rows = np.hstack([pixels, (np.arange(n) % 10)[:, None]])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt="%.9e", delimiter=" ")
    return pixels.reshape(n, 28, 28)


def test_rotated_mnist_official_files(tmp_path: Path) -> None:
    folder = tmp_path / "mnist_rotation_new"
    train = write_amat(folder / mnist.MNIST_ROT_FILES["train"], 14, seed=0)
    write_amat(folder / mnist.MNIST_ROT_FILES["test"], 5, seed=1)
    dm = RotatedMNISTDataModule(data_dir=str(tmp_path), source="official", image_size=28)
    dm.setup()
    assert len(dm.dataset("train")) + len(dm.dataset("val")) == 14
    x, y = dm.dataset("test").tensors
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32 and y.tolist() == [0, 1, 2, 3, 4]
    images, labels = mnist.load_mnist_rot(tmp_path, train=True)  # now from the .npz cache
    assert np.allclose(images, train, atol=1e-6) and labels.dtype == np.int64
    assert (folder / "mnist_all_rotation_normalized_float_train_valid.npz").is_file()


def test_rotated_mnist_official_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        RotatedMNISTDataModule(data_dir=str(tmp_path), source="official").setup()
    assert mnist.MNIST_ROT_URL in str(err.value)
    assert "mnist_all_rotation_normalized_float_train_valid.amat" in str(err.value)
    path = tmp_path / mnist.MNIST_ROT_FILES["train"]
    path.write_text("0.5 " * 783 + "3\n")  # one pixel short
    with pytest.raises(DatasetFormatError, match="line 1") as err:
        mnist.load_mnist_rot(tmp_path, train=True)
    assert str(path) in str(err.value)


# ----------------------------------------------------------------------------- CIFAR-10


def cifar_batch(n: int, seed: int) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return {
        b"batch_label": b"test",
        b"data": data,
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
    }


def write_cifar(root: Path, n: int = 4) -> Path:
    folder = root / cifar.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(cifar.CIFAR10_TRAIN + cifar.CIFAR10_TEST):
        (folder / name).write_bytes(pickle.dumps(cifar_batch(n, seed=i), protocol=2))
    return folder


def test_cifar_loads_folder_and_datamodule(tmp_path: Path) -> None:
    write_cifar(tmp_path, n=4)
    images, labels = cifar.load_cifar10(tmp_path, train=True, download=False)
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8 and labels.dtype == np.int64
    first = cifar_batch(4, seed=0)
    assert np.array_equal(images[:4].reshape(4, -1), first[b"data"])
    assert labels[:4].tolist() == first[b"labels"]
    dm = CIFAR10DataModule(data_dir=str(tmp_path), val_fraction=0.1)
    dm.setup()
    x, y = dm.dataset("train").tensors
    assert x.shape == (18, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(dm.dataset("val")) == 2 and len(dm.dataset("test")) == 4
    assert dm.info.channels == 3 and dm.info.num_classes == 10 and len(dm.info.mean) == 3


def test_cifar_extracts_archive_safely(tmp_path: Path) -> None:
    src = write_cifar(tmp_path / "src", n=2)
    archive = tmp_path / "data" / cifar.CIFAR10_ARCHIVE
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=cifar.CIFAR10_FOLDER)
    images, _ = cifar.load_cifar10(tmp_path / "data", train=False, download=False)
    assert images.shape == (2, 3, 32, 32)
    assert leftovers(tmp_path / "data") == sorted([cifar.CIFAR10_ARCHIVE, cifar.CIFAR10_FOLDER])


@pytest.mark.parametrize("kind", ["traversal", "symlink", "garbage"])
def test_cifar_rejects_unsafe_or_corrupt_archive(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / cifar.CIFAR10_ARCHIVE
    if kind == "garbage":
        archive.write_bytes(b"not a tarball at all")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(f"{cifar.CIFAR10_FOLDER}/../../evil")
            if kind == "symlink":
                info = tarfile.TarInfo(f"{cifar.CIFAR10_FOLDER}/test_batch")
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DatasetFormatError) as err:
        cifar.load_cifar10(tmp_path, train=False, download=False)
    assert str(archive) in str(err.value)
    assert leftovers(tmp_path) == [cifar.CIFAR10_ARCHIVE]
    assert not (tmp_path.parent / "evil").exists()


@pytest.mark.parametrize(
    "content,match",
    [
        (b"\x80\x02garbage", "not a readable CIFAR batch"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}, protocol=2), "b'labels'"),
        (
            pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2),
            "3072",
        ),
        (
            pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, protocol=2),
            "labels",
        ),
        (pickle.dumps(Path("x")), "refusing to load global"),
    ],
)
def test_cifar_corrupt_batch_names_file(tmp_path: Path, content: bytes, match: str) -> None:
    folder = write_cifar(tmp_path, n=2)
    (folder / "test_batch").write_bytes(content)
    with pytest.raises(DatasetFormatError, match=match) as err:
        cifar.load_cifar10(tmp_path, train=False, download=False)
    assert str(folder / "test_batch") in str(err.value)


def test_cifar_missing_names_paths_and_url(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        CIFAR10DataModule(data_dir=str(tmp_path)).setup()
    message = str(err.value)
    assert str(tmp_path / cifar.CIFAR10_ARCHIVE) in message and cifar.CIFAR10_URL in message
    assert "data.download: true" in message


# ----------------------------------------------------------------------------- Tiny ImageNet

WNIDS = ["n02", "n01", "n03"]  # deliberately unsorted: labels follow sorted order


def solid(value: int) -> Image.Image:
    return Image.new("RGB", (64, 64), color=(value, 255 - value, 7))


def write_tiny(root: Path, per_class: int = 3) -> Path:
    folder = root / tiny_imagenet.TINY_IMAGENET_FOLDER
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for wnid in WNIDS:
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        for i in range(per_class):
            # PNG content under the official .JPEG name keeps pixel values exact
            solid(10 * int(wnid[1:]) + i).save(images / f"{wnid}_{i}.JPEG", format="PNG")
    (folder / "val" / "images").mkdir(parents=True)
    lines = []
    for i, wnid in enumerate(["n03", "n01", "n02", "n01"]):
        solid(100 + i).save(folder / "val" / "images" / f"val_{i}.JPEG", format="JPEG")
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_tiny_imagenet_loads_labels_in_sorted_wnid_order(tmp_path: Path) -> None:
    folder = write_tiny(tmp_path)
    images, labels = tiny_imagenet.load_tiny_imagenet(tmp_path, "train")
    assert images.shape == (9, 3, 64, 64) and images.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # n01, n02, n03
    assert images[0, :, 0, 0].tolist() == [10, 245, 7] and images[4, :, 5, 5].tolist() == [
        21,
        234,
        7,
    ]
    _, val_labels = tiny_imagenet.load_tiny_imagenet(tmp_path, "val")
    assert val_labels.tolist() == [2, 0, 1, 0]
    assert (folder / "decoded_train.npz").is_file() and (folder / "decoded_val.npz").is_file()


def test_tiny_imagenet_second_load_uses_cache(tmp_path: Path, monkeypatch) -> None:
    folder = write_tiny(tmp_path)
    first = tiny_imagenet.load_tiny_imagenet(tmp_path, "train")
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
    second = tiny_imagenet.load_tiny_imagenet(tmp_path, "train")
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    solid(0).save(folder / "train" / "n01" / "images" / "n01_9.JPEG", format="PNG")
    monkeypatch.undo()
    assert len(tiny_imagenet.load_tiny_imagenet(tmp_path, "train")[0]) == 10  # cache rebuilt


def test_tiny_imagenet_datamodule(tmp_path: Path) -> None:
    write_tiny(tmp_path)
    dm = TinyImageNetDataModule(data_dir=str(tmp_path), val_fraction=0.25, seed=3)
    assert dm.info.num_classes == 200 and dm.info.image_size == 64
    dm.prepare_data()
    dm.setup()
    x, y = dm.dataset("train").tensors
    assert x.shape == (7, 3, 64, 64) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert len(dm.dataset("val")) == 2 and len(dm.dataset("test")) == 4
    again = TinyImageNetDataModule(data_dir=str(tmp_path), val_fraction=0.25, seed=3)
    assert torch.equal(again.dataset("val").tensors[1], dm.dataset("val").tensors[1])


def test_tiny_imagenet_format_errors_name_the_file(tmp_path: Path) -> None:
    folder = write_tiny(tmp_path)
    annotations = folder / "val" / "val_annotations.txt"
    good = annotations.read_text()
    annotations.write_text(good + "val_0.JPEG\tn99\t0\t0\t1\t1\n")
    with pytest.raises(DatasetFormatError, match="n99") as err:
        tiny_imagenet.load_tiny_imagenet(tmp_path, "val")
    assert str(annotations) in str(err.value)
    annotations.write_text(good + "val_77.JPEG\tn01\t0\t0\t1\t1\n")
    with pytest.raises(DatasetFormatError, match="missing") as err:
        tiny_imagenet.load_tiny_imagenet(tmp_path, "val")
    assert str(folder / "val" / "images" / "val_77.JPEG") in str(err.value)
    broken = folder / "train" / "n02" / "images" / "n02_1.JPEG"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DatasetFormatError) as err:
        tiny_imagenet.load_tiny_imagenet(tmp_path, "train")
    assert str(broken) in str(err.value)


def test_tiny_imagenet_missing_and_bad_split(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        TinyImageNetDataModule(data_dir=str(tmp_path)).setup()
    assert str(tmp_path / "tiny-imagenet-200") in str(err.value)
    assert tiny_imagenet.TINY_IMAGENET_URL in str(err.value)
    with pytest.raises(ValueError, match="split"):
        tiny_imagenet.load_tiny_imagenet(tmp_path, "test")
