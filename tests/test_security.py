"""Untrusted files never run code: one crafted file per kind of file the library reads.

Each test builds a hostile or broken file in a temporary directory and hands it to the reader
a user would use. It asserts that the payload did not run (its marker file, outside the run
directory, is absent), that nothing outside the run directory was written, and that the error
is one line naming the file. ``test_the_payload_runs_when_unpickled_unsafely`` shows that the
payload is live, so "absent" means "refused".
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_args import quiet
from PIL import Image

from structured_ssl import compare, report
from structured_ssl.checkpoints import CheckpointError, load_checkpoint, project_types
from structured_ssl.cli import main
from structured_ssl.data import cifar, mnist, tiny_imagenet
from structured_ssl.data.download import DatasetFormatError
from structured_ssl.groups import Group
from structured_ssl.methods import StructuredSSL
from structured_ssl.methods.linear_eval import LinearEval
from structured_ssl.resilience import AtomicCheckpointIO

REPO = Path(__file__).resolve().parents[1]
LINEAR = str(REPO / "configs/eval/linear.yaml")
DEFAULT = str(REPO / "configs/default.yaml")


class Payload:
    """Unpickled by the full unpickler, this runs a shell command creating ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@dataclass
class Sandbox:
    """``run``: the working directory a command may write to. ``outside``: where the payload
    aims, next to the crafted files; neither it nor anything else outside ``run`` may change
    after :meth:`seal`."""

    root: Path
    run: Path
    marker: Path
    sealed: dict[str, tuple[int, int]] | None = None

    def files_outside_run(self) -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(self.root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in self.root.rglob("*")
            if self.run not in p.parents and p != self.run
        }

    def seal(self) -> None:
        """The crafted files are in place: from now on nothing outside ``run`` may change."""
        self.sealed = self.files_outside_run()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    (tmp_path / "run").mkdir()
    (tmp_path / "outside").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    yield Sandbox(tmp_path, tmp_path / "run", tmp_path / "outside" / "marker")


@pytest.fixture
def unchanged(sandbox: Sandbox) -> Iterator[Sandbox]:
    """A sandbox whose test must :meth:`~Sandbox.seal` it; checked when the test ends."""
    yield sandbox
    assert not sandbox.marker.exists(), "the payload ran"
    assert sandbox.sealed is not None, "the test never sealed its sandbox"
    assert sandbox.files_outside_run() == sandbox.sealed, "something outside the run directory was written"


def one_line_naming(message: str, path: Path) -> str:
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert str(path) in message, f"{path} not named in: {message!r}"
    return message


def test_the_payload_runs_when_unpickled_unsafely(sandbox: Sandbox) -> None:
    pickle.loads(pickle.dumps(Payload(sandbox.marker)))
    assert sandbox.marker.exists()


# ----------------------------------------------------------------------------- checkpoints
def evil_checkpoint(sandbox: Sandbox, name: str = "evil.ckpt") -> Path:
    path = sandbox.root / name
    torch.save({"state_dict": {}, "hyper_parameters": {"group": Payload(sandbox.marker)}}, path)
    return path


def test_evaluating_a_checkpoint_with_a_pickle_payload_is_refused(unchanged: Sandbox) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(CheckpointError) as error:
        LinearEval(str(path))
    message = one_line_naming(str(error.value), path)
    assert "posix.system" in message and "--model.init_args.trust_checkpoint=true" in message


def test_linear_eval_cli_refuses_the_payload_in_one_line(unchanged: Sandbox, capsys: pytest.CaptureFixture) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", LINEAR, f"--model.init_args.checkpoint={path}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, path)


def test_resume_from_an_explicit_checkpoint_with_a_payload_is_refused(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", DEFAULT, f"--ckpt_path={path}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "--weights_only=false" in one_line_naming(line, path)


def test_resume_last_with_a_payload_is_refused_even_when_torch_is_told_to_trust(
    unchanged: Sandbox, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ckpt_path last`` reaches only the trainer's checkpoint IO, and Lightning passes it
    ``weights_only=None``: torch's default, which this variable turns into the full unpickler."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    last = unchanged.run / "resume" / "version_0" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    checkpoint = {"state_dict": {}, "epoch": 0, "global_step": 0, "pytorch-lightning_version": "2.6.0"}
    torch.save({**checkpoint, "callbacks": {"ExactResume": {"ranks": [Payload(unchanged.marker)]}}}, last)
    unchanged.seal()
    args = ["fit", "--config", DEFAULT, "--ckpt_path=last", "--trainer.logger.init_args.name=resume"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, last)


def test_a_checkpoint_cannot_switch_on_trust_for_the_file_it_names(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    """LightningCLI copies ``--ckpt_path``'s hyperparameters into the model's arguments; a
    crafted linear-eval checkpoint asks for ``trust_checkpoint`` and names a hostile file."""
    pretrained = evil_checkpoint(unchanged, "pretrained.ckpt")
    hparams = {"_class_path": "structured_ssl.methods.linear_eval.LinearEval", "checkpoint": str(pretrained)}
    crafted = unchanged.root / "linear.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {**hparams, "trust_checkpoint": True}}, crafted)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", LINEAR, f"--ckpt_path={crafted}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, pretrained)


@pytest.mark.parametrize(
    "hparams",
    [
        {"_class_path": "subprocess.Popen", "args": ["touch", "MARKER"]},
        {"_class_path": "structured_ssl.methods.StructuredSSL", "loss": {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", "MARKER"]}}},
    ],
)
def test_a_checkpoint_selects_only_project_classes(unchanged: Sandbox, capsys: pytest.CaptureFixture, hparams: dict) -> None:
    """The hyperparameters LightningCLI copies from ``--ckpt_path`` are type-checked like a
    config: the model must be an SSLMethod, its loss a PairLoss."""
    path = unchanged.root / "classes.ckpt"
    hparams = json.loads(json.dumps(hparams).replace("MARKER", str(unchanged.marker)))
    torch.save({"state_dict": {}, "hyper_parameters": hparams}, path)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", DEFAULT, f"--ckpt_path={path}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith(f"error: {path}")]
    one_line_naming(line, path)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_a_broken_checkpoint_is_named(unchanged: Sandbox, kind: str) -> None:
    path = unchanged.root / f"{kind}.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(100)}}, path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(256), "empty": b""}[kind])
    unchanged.seal()
    for read in (load_checkpoint, AtomicCheckpointIO().load_checkpoint):
        with pytest.raises(CheckpointError) as error:
            read(path)
        one_line_naming(str(error.value), path)


def test_the_project_types_load_and_others_only_when_trusted(tmp_path: Path) -> None:
    """The allow-list covers what save_hyperparameters stores for a model built in Python."""
    from structured_ssl import losses

    model = StructuredSSL(group=Group("rotation", 4), loss=losses.VICReg())
    saved = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    saved["hyper_parameters"]["losses"] = [cls() for cls in project_types() if issubclass(cls, losses.PairLoss)]
    torch.save(saved, tmp_path / "python.ckpt")
    loaded = load_checkpoint(tmp_path / "python.ckpt")
    assert loaded["hyper_parameters"]["group"] == Group("rotation", 4)
    assert [type(x) for x in loaded["hyper_parameters"]["losses"]] == [type(x) for x in saved["hyper_parameters"]["losses"]]
    assert all(torch.equal(loaded["state_dict"][k], v) for k, v in saved["state_dict"].items())

    # a harmless type outside the allow-list: refused by default, read when the user trusts it
    saved["hyper_parameters"]["note"] = Fraction(1, 3)
    torch.save(saved, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"fractions\.Fraction"):
        load_checkpoint(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"fractions\.Fraction"):
        AtomicCheckpointIO().load_checkpoint(tmp_path / "other.ckpt")
    assert AtomicCheckpointIO().load_checkpoint(tmp_path / "other.ckpt", weights_only=False)["hyper_parameters"]["note"] == Fraction(1, 3)
    evaluator = LinearEval(str(tmp_path / "other.ckpt"), trust_checkpoint=True)
    assert "trust_checkpoint" not in evaluator.hparams, "trust is never recorded in a checkpoint"


# ----------------------------------------------------------------------------- data files
def test_a_cifar_batch_with_a_pickle_payload_is_refused(unchanged: Sandbox) -> None:
    path = unchanged.root / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload(unchanged.marker), b"labels": [0]}, protocol=2))
    unchanged.seal()
    with pytest.raises(DatasetFormatError) as error:
        cifar.read_cifar_batch(path)
    assert "posix.system" in one_line_naming(str(error.value), path)


@pytest.mark.parametrize("member", ["dotdot", "absolute", "symlink", "hardlink"])
def test_an_archive_member_escaping_the_data_directory_is_refused(unchanged: Sandbox, member: str) -> None:
    data = unchanged.run / "data"
    data.mkdir()
    archive = data / cifar.CIFAR10_ARCHIVE
    folder = cifar.CIFAR10_FOLDER
    escape = unchanged.root / "outside" / "escaped"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(
            {"dotdot": f"{folder}/../../../../outside/escaped", "absolute": str(escape)}.get(member, f"{folder}/x")
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
    assert sorted(p.name for p in data.iterdir()) == [cifar.CIFAR10_ARCHIVE], "no partial folder is left"


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
def test_a_truncated_or_wrong_magic_idx_file_is_named(unchanged: Sandbox, content: bytes, match: str, gzipped: bool) -> None:
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
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(bytes(1 << 16), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "content,match",
    [
        (b"this is not an image", "cannot decode image"),
        (pickle.dumps(Payload(Path("/nonexistent/marker"))), "cannot decode image"),
        (png_header(100_000, 100_000), "decompression bomb"),  # over 2 x MAX_IMAGE_PIXELS: PIL raises
        (png_header(10_000, 10_000), "decompression bomb"),  # between 1 and 2 x: PIL only warns
        (png_header(65, 64), r"expected \(64, 64\)"),
    ],
)
def test_a_tiny_imagenet_file_that_is_no_image_or_a_bomb_is_named(unchanged: Sandbox, content: bytes, match: str) -> None:
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
    Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "train" / "n01" / "images" / "a.JPEG", format="PNG")
    hostile = np.array([Payload(unchanged.marker)], dtype=object)
    np.savez(folder / "decoded_train.npz", fingerprint=hostile, images=hostile, labels=hostile)
    unchanged.seal()
    images, labels = tiny_imagenet.load_tiny_imagenet(data, "train")  # rebuilt from the images
    assert images[0, :, 0, 0].tolist() == [1, 2, 3] and labels.tolist() == [0]


# ----------------------------------------------------------------------------- results and logs
@pytest.mark.parametrize("content", [b'{"key": "digits/x/seed0", "test": {', b"\xff\xfe not text", b"[1, 2]"])
def test_report_names_a_corrupt_result_json(unchanged: Sandbox, content: bytes) -> None:
    result = unchanged.root / "grid" / "results" / "digits" / "x" / "seed0.json"
    result.parent.mkdir(parents=True)
    result.write_bytes(content)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        report.main([str(unchanged.root / "grid"), "--out", str(unchanged.run / "report")])
    assert str(exit_.value.code).startswith("error: ")
    one_line_naming(str(exit_.value.code), result)


def write_events(directory: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(directory))
    writer.add_scalar("val/probe_acc", 0.5, 0)
    writer.close()
    return next(directory.glob(compare.EVENT_GLOB))


@pytest.mark.parametrize("kind", ["garbage", "bad-record"])
def test_compare_names_a_corrupt_event_file(unchanged: Sandbox, capsys: pytest.CaptureFixture, kind: str) -> None:
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
    (run / "config.yaml").write_text(f"model: !!python/object/apply:os.system ['touch {unchanged.marker}']\n")
    unchanged.seal()
    (row,) = compare.collect(logs)
    assert row.val_acc == 0.5 and row.objective == "-"
    assert row.name == "run/version_0"
