"""Untrusted files never run code: crafted data files, results and logs.

As tests/security/test_security.py for checkpoints: each test hands a hostile or broken file to the
reader a user would use, and asserts that no code ran, nothing outside the run directory was
written, and the error is one line naming the file.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from security_sandbox import Payload, Sandbox, make_sandbox, one_line_naming

from structured_ssl.data import cifar, mnist, tiny_imagenet
from structured_ssl.data.download import DatasetFormatError
from structured_ssl.reporting import compare, report, run_reading


@pytest.fixture
def unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox the test must seal; checked when the test ends."""
    box = make_sandbox(tmp_path, monkeypatch)
    yield box
    box.check()


# ----------------------------------------------------------------------------- data files
def test_a_cifar_batch_with_a_pickle_payload_is_refused(unchanged: Sandbox) -> None:
    path = unchanged.root / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload(unchanged.marker), b"labels": [0]}, protocol=2))
    unchanged.seal()
    with pytest.raises(DatasetFormatError) as error:
        cifar.read_cifar_batch(path)
    assert "posix.system" in one_line_naming(str(error.value), path)


@pytest.mark.parametrize("member", ["dotdot", "absolute", "symlink", "hardlink"])
def test_an_archive_member_escaping_the_data_directory_is_refused(
    unchanged: Sandbox, member: str
) -> None:
    data = unchanged.run / "data"
    data.mkdir()
    archive = data / cifar.CIFAR10_ARCHIVE
    folder = cifar.CIFAR10_FOLDER
    escape = unchanged.root / "outside" / "escaped"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(
            {"dotdot": f"{folder}/../../../../outside/escaped", "absolute": str(escape)}.get(
                member, f"{folder}/x"
            )
        )
        if member in ("symlink", "hardlink"):
            info.type = tarfile.SYMTYPE if member == "symlink" else tarfile.LNKTYPE
            info.linkname = str(escape)
        payload = b"escaped"
        info.size = 0 if member in ("symlink", "hardlink") else len(payload)
        tar.addfile(info, io.BytesIO(payload))
    unchanged.seal()
    with pytest.raises(DatasetFormatError) as error:
        cifar.load_cifar10(data, train=False, download=False)
    one_line_naming(str(error.value), archive)
    assert not escape.exists()
    assert sorted(p.name for p in data.iterdir()) == [cifar.CIFAR10_ARCHIVE], (
        "no partial folder is left"
    )


def idx_bytes(magic: bytes, dims: tuple[int, ...], payload: bytes) -> bytes:
    return magic + struct.pack(f">{len(dims)}I", *dims) + payload


@pytest.mark.parametrize(
    "content,match",
    [
        (idx_bytes(b"\x00\x00\x08\x03", (10, 28, 28), bytes(100)), "truncated"),
        (idx_bytes(b"\x00\x00\x08\x03", (10, 28, 28), bytes(10 * 784))[:10], "truncated"),
        (idx_bytes(b"PK\x03\x04", (10, 28, 28), bytes(10 * 784)), "not an IDX file"),
        (pickle.dumps(Payload(Path("/nonexistent/marker"))), "not an IDX file"),
    ],
)
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_truncated_or_wrong_magic_idx_file_is_named(
    unchanged: Sandbox, content: bytes, match: str, gzipped: bool
) -> None:
    path = unchanged.root / ("train-images-idx3-ubyte" + (".gz" if gzipped else ""))
    path.write_bytes(gzip.compress(content) if gzipped else content)
    unchanged.seal()
    with pytest.raises(DatasetFormatError, match=match) as error:
        mnist.read_idx(path)
    one_line_naming(str(error.value), path)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` 1-bit pixels: a few hundred bytes on disk, and
    gigabytes once decoded. Its one data chunk is deflated zeros (the first rows)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(bytes(1 << 16), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "content,match",
    [
        (b"this is not an image", "cannot decode image"),
        (pickle.dumps(Payload(Path("/nonexistent/marker"))), "cannot decode image"),
        (
            png_header(100_000, 100_000),
            "decompression bomb",
        ),  # over 2 x MAX_IMAGE_PIXELS: PIL raises
        (png_header(10_000, 10_000), "decompression bomb"),  # between 1 and 2 x: PIL only warns
        (png_header(65, 64), r"expected \(64, 64\)"),
    ],
)
def test_a_tiny_imagenet_file_that_is_no_image_or_a_bomb_is_named(
    unchanged: Sandbox, content: bytes, match: str
) -> None:
    data = unchanged.run / "data"
    folder = data / tiny_imagenet.TINY_IMAGENET_FOLDER
    images = folder / "train" / "n01" / "images"
    images.mkdir(parents=True)
    (folder / "wnids.txt").write_text("n01\n")
    Image.new("RGB", (64, 64)).save(images / "n01_0.JPEG", format="PNG")
    (images / "n01_1.JPEG").write_bytes(content)
    unchanged.seal()
    with pytest.raises(DatasetFormatError, match=match) as error:
        tiny_imagenet.load_tiny_imagenet(data, "train")
    one_line_naming(str(error.value), images / "n01_1.JPEG")
    assert not list(folder.glob("decoded_*.npz")), "nothing is cached from a refused folder"


def test_a_decoded_cache_holding_pickled_objects_is_not_unpickled(unchanged: Sandbox) -> None:
    data = unchanged.run / "data"
    folder = data / tiny_imagenet.TINY_IMAGENET_FOLDER
    (folder / "train" / "n01" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("n01\n")
    Image.new("RGB", (64, 64), (1, 2, 3)).save(
        folder / "train" / "n01" / "images" / "a.JPEG", format="PNG"
    )
    hostile = np.array([Payload(unchanged.marker)], dtype=object)
    np.savez(folder / "decoded_train.npz", fingerprint=hostile, images=hostile, labels=hostile)
    unchanged.seal()
    images, labels = tiny_imagenet.load_tiny_imagenet(data, "train")  # rebuilt from the images
    assert images[0, :, 0, 0].tolist() == [1, 2, 3] and labels.tolist() == [0]


# ----------------------------------------------------------------------------- results and logs
@pytest.mark.parametrize(
    "content", [b'{"key": "digits/x/seed0", "test": {', b"\xff\xfe not text", b"[1, 2]"]
)
def test_report_names_a_corrupt_result_json(
    unchanged: Sandbox, content: bytes, capsys: pytest.CaptureFixture
) -> None:
    result = unchanged.root / "grid" / "results" / "digits" / "x" / "seed0.json"
    result.parent.mkdir(parents=True)
    result.write_bytes(content)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        report.main([str(unchanged.root / "grid"), "--out", str(unchanged.run / "report")])
    assert exit_.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ")
    one_line_naming(line, result)
    assert not (unchanged.run / "report").exists(), "refused before anything is written"


def write_events(directory: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(directory))
    writer.add_scalar("val/probe_acc", 0.5, 0)
    writer.close()
    return next(directory.glob(run_reading.EVENT_GLOB))


@pytest.mark.parametrize("kind", ["garbage", "bad-record"])
def test_compare_names_a_corrupt_event_file(
    unchanged: Sandbox, capsys: pytest.CaptureFixture, kind: str
) -> None:
    from tensorboard.summary.writer.record_writer import RecordWriter

    logs = unchanged.root / "logs"
    write_events(logs / "good" / "version_0")
    corrupt = logs / "bad" / "version_0" / "events.out.tfevents.0.host"
    corrupt.parent.mkdir(parents=True)
    if kind == "garbage":
        corrupt.write_bytes(os.urandom(512))
    else:  # valid record framing around bytes that are no event
        with open(corrupt, "wb") as f:
            RecordWriter(f).write(b"\xff" * 32)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        compare.main([str(logs), "--out", str(unchanged.run / "compare")])
    assert exit_.value.code == 2
    one_line_naming(capsys.readouterr().err.strip().splitlines()[-1], corrupt)


def test_compare_reads_a_hostile_config_yaml_without_running_it(unchanged: Sandbox) -> None:
    """The identity of a run comes from its config.yaml, parsed with yaml.safe_load."""
    logs = unchanged.root / "logs"
    run = write_events(logs / "run" / "version_0").parent
    (run / "config.yaml").write_text(
        f"model: !!python/object/apply:os.system ['touch {unchanged.marker}']\n"
    )
    unchanged.seal()
    (row,) = compare.collect(logs)
    assert row.val_acc == 0.5 and row.objective == "-"
    assert row.name == "run/version_0"
