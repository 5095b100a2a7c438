"""Rows of the bad-input probe (issue 31, items 2 and 3, and the one-line tracebacks): every
file the library reads (images, configs, result JSON, checkpoints) and every sweep option,
refused in one line naming the file or option, before anything runs.

Row format and runner: tests/bad_inputs/test_bad_input_probe.py. Setups write the bad file into the
row's ``tmp``; rows that need a trained checkpoint copy the one shared tiny fit
(tests/bad_inputs/bad_input_fit.py). Behaviour that is not a refusal (16-bit grey, palette, alpha and
CMYK decoded correctly; the alias bomb's memory; the check's speed) is tested in
tests/bad_inputs/test_read_files.py.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from bad_input_fit import LAST, RUN, SHORT, finished_fit
from PIL import Image

# --------------------------------------------------------------------------- helpers
IMAGE_FOLDER = [
    "--config", "objectives/structured", "--config", "datasets/image_folder", "--config", "groups/rotation",
    "--data.init_args.data_dir={tmp}/images", "--data.init_args.num_workers=0",
    "--trainer.default_root_dir={tmp}/runs", "--trainer.logger.init_args.save_dir={tmp}/runs",
]  # fmt: skip
DEFAULT = ["--config", "default", "--trainer.default_root_dir={tmp}/runs"]
GRID = ["--objectives", "structured", "--groups", "rotation", "--seeds", "0", "--epochs", "1"]


def picture(seed: int, size: int = 12, mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def image_folder(
    tmp: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 6, under: str = "images"
) -> Path:
    """``tmp/<under>/<class>/NN.png``: small good RGB images."""
    for c, name in enumerate(classes):
        (tmp / under / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            picture(10 * c + i).save(tmp / under / name / f"{i:02d}.png")
    return tmp / under


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that states ``width x height`` (8-bit grey) and holds no pixels: Pillow refuses a
    decompression bomb from the header, as it would the 200 kB real one."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


# --------------------------------------------------------------------------- setups: images
def text_named_png(tmp: Path) -> None:
    (image_folder(tmp) / "cat" / "notes.png").write_text("shopping list: milk, eggs\n")


def truncated_png(tmp: Path) -> None:
    folder = image_folder(tmp)
    data = (folder / "dog" / "03.png").read_bytes()
    (folder / "dog" / "cut.png").write_bytes(data[: len(data) // 2])


def bomb_png(tmp: Path) -> None:
    (image_folder(tmp) / "dog" / "huge.png").write_bytes(png_header_only(15000, 15000))


def float_tiff(tmp: Path) -> None:
    finished_fit(tmp)
    depth = np.linspace(0.0, 7.5, 144, dtype=np.float32).reshape(12, 12)
    Image.fromarray(depth).save(image_folder(tmp) / "cat" / "depth.tif")


def one_class(tmp: Path) -> None:
    image_folder(tmp, classes=("cat",))


def three_images(tmp: Path) -> None:
    image_folder(tmp, per_class=1, classes=("cat", "dog", "eel"))


def split_classes_differ(tmp: Path) -> None:
    image_folder(tmp, ("cat", "dog"), 4, "images/train")
    image_folder(tmp, ("cat", "eel"), 2, "images/test")


def fit_and_images(tmp: Path) -> None:
    finished_fit(tmp)
    image_folder(tmp)


# --------------------------------------------------------------------------- setups: configs
def checkpoint_file(tmp: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp / "model.ckpt")


def random_bytes(tmp: Path) -> None:
    (tmp / "noise.yaml").write_bytes(
        bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8))
    )


def latin1_yaml(tmp: Path) -> None:
    (tmp / "latin1.yaml").write_bytes(
        "# caf\xe9 settings\ntrainer:\n  max_epochs: 1\n".encode("latin-1")
    )


def duplicate_key(tmp: Path) -> None:
    (tmp / "dup.yaml").write_text("trainer:\n  max_epochs: 1\n  max_epochs: 30\n")


def env_var_yaml(tmp: Path) -> None:
    (tmp / "env.yaml").write_text(f"trainer:\n  default_root_dir: {tmp}/${{TMPDIR}}/runs\n")


def alias_bomb(tmp: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    (tmp / "bomb.yaml").write_text("\n".join(lines) + "\n")


def syntax_error(tmp: Path) -> None:
    (tmp / "bad.yaml").write_text("trainer:\n  max_epochs: {1\n  devices: 1\n")


# --------------------------------------------------------------------------- setups: results
def result(tmp: Path, folder: str, content: str) -> None:
    path = tmp / folder / "results" / "digits" / "structured_rotation" / "seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)


GOOD_RESULT = {
    "dataset": "digits", "objective": "structured", "group": "rotation", "seed": 0,
    "configs": [], "overrides": [], "test": {"test/linear_acc": 0.5},
}  # fmt: skip


def truncated_result(tmp: Path) -> None:
    result(tmp, "g", json.dumps(GOOD_RESULT)[:40])


def truncated_study_result(tmp: Path) -> None:
    result(tmp, "s", json.dumps(GOOD_RESULT)[:40])


def string_for_number(tmp: Path) -> None:
    result(tmp, "g", json.dumps({**GOOD_RESULT, "test": {"test/linear_acc": "abc"}}))


def seed_as_text(tmp: Path) -> None:
    result(tmp, "g", json.dumps({**GOOD_RESULT, "seed": "0"}))


def list_result(tmp: Path) -> None:
    result(tmp, "g", json.dumps([GOOD_RESULT]))


def corrupt_event_file(tmp: Path) -> None:
    run = tmp / "logs" / "run" / "version_0"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.host.0.0").write_bytes(b"\x00\x01not an event file" * 10)


# --------------------------------------------------------------------------- setups: checkpoints
def truncated_checkpoint(tmp: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "hyper_parameters": {}}, tmp / "full.ckpt")
    data = (tmp / "full.ckpt").read_bytes()
    (tmp / "cut.ckpt").write_bytes(data[: len(data) // 2])


def _row(id: str, argv: list[str], words: list[str], setup: str | None = None, exit: int = 2,
         unchanged: tuple[str, ...] = (), absent: tuple[str, ...] = ("runs",), alone: bool = True) -> dict:  # fmt: skip
    row = {"id": id, "argv": argv, "exit": exit, "words": words, "unchanged": list(unchanged),
           "absent": list(absent), "alone": alone}  # fmt: skip
    if setup:
        row["setup"] = setup
    return row


IMAGES = "images/**/*"
SHAPE = ["was trained on 1-channel 21 x 21 images", "3-channel 33 x 33", "data.channels"]
CASES: list[dict] = [
    # images: checked once before the run, the file named
    _row("image-text-file-named-png", ["fit", *IMAGE_FOLDER], ["data.data_dir=", "cat/notes.png", "not an image Pillow can read"], "text_named_png", unchanged=(IMAGES,)),
    _row("image-truncated-png", ["validate", *IMAGE_FOLDER], ["dog/cut.png", "damaged or cut short"], "truncated_png", unchanged=(IMAGES,)),
    _row("image-decompression-bomb", ["test", *IMAGE_FOLDER], ["dog/huge.png", "15000 x 15000 pixels", "decompression-bomb limit"], "bomb_png", unchanged=(IMAGES,)),
    _row("image-32-bit-float", ["predict", *IMAGE_FOLDER, "--ckpt_path", LAST], ["cat/depth.tif", "mode 'F'", "16-bit grey"], "float_tiff", unchanged=(IMAGES, f"{RUN}/**/*"), absent=()),
    _row("image-folder-one-class", ["fit", *IMAGE_FOLDER], ["one class folder (cat/)", "at least 2 classes"], "one_class"),
    _row("image-folder-too-few", ["fit", *IMAGE_FOLDER], ["holds 3 training image(s)", "1 would train", "at least 2"], "three_images"),
    _row("image-split-classes-differ", ["fit", *IMAGE_FOLDER], ["test/ has class folder(s) eel", "train/ lacks"], "split_classes_differ"),
    # configs: read once, strictly, before jsonargparse
    _row("config-is-a-checkpoint", ["check", "--config", "{tmp}/model.ckpt"], ["--config=", "model.ckpt", "is a zip archive", "--ckpt_path"], "checkpoint_file", unchanged=("model.ckpt",)),
    _row("config-random-bytes", ["predict", *DEFAULT, "--config", "{tmp}/noise.yaml"], ["noise.yaml", "is a binary file"], "random_bytes"),
    _row("config-not-utf8", ["fit", *DEFAULT, "--config", "{tmp}/latin1.yaml"], ["latin1.yaml:1", "not UTF-8 text (byte 0xe9)"], "latin1_yaml"),
    _row("config-duplicate-key", ["validate", *DEFAULT, "--config", "{tmp}/dup.yaml"], ["dup.yaml:3", "'max_epochs' appears twice", "first at line 2"], "duplicate_key"),
    _row("config-environment-variable", ["fit", *DEFAULT, "--config", "{tmp}/env.yaml"], ["env.yaml:2", "trainer.default_root_dir", "${TMPDIR}/runs", "environment-variable syntax"], "env_var_yaml", absent=("runs", "${TMPDIR}")),
    _row("argument-environment-variable", ["fit", "--config", "default", "--trainer.default_root_dir={tmp}/${TMPDIR}/runs"], ["--trainer.default_root_dir=", "${TMPDIR}/runs", "the shell did not expand"], absent=("${TMPDIR}",)),
    _row("config-alias-bomb", ["test", *DEFAULT, "--config", "{tmp}/bomb.yaml"], ["bomb.yaml", "expand to more than 100000 values"], "alias_bomb"),
    _row("config-syntax-error", ["fit", *DEFAULT, "--config", "{tmp}/bad.yaml"], ["bad.yaml:3:10", "expected ',' or '}'", "while parsing a flow mapping"], "syntax_error"),
    _row("grid-overlay-duplicate-key", ["grid", "--out", "{tmp}/g", *GRID, "--overlay", "{tmp}/dup.yaml"], ["dup.yaml:3", "appears twice"], "duplicate_key", absent=("g",)),
    # result JSON: grid, study and report
    _row("grid-truncated-result", ["grid", "--out", "{tmp}/g", *GRID], ["seed0.json", "not a readable result JSON", "delete it to rerun"], "truncated_result", unchanged=("g/results/**/*.json",), absent=("g/logs",)),
    _row("study-truncated-result", ["study", "g0_size", "--values", "1", "--out", "{tmp}/s", "--epochs", "1"], ["seed0.json", "not a readable result JSON"], "truncated_study_result", unchanged=("s/results/**/*.json",), absent=("s/logs",)),
    _row("report-string-for-a-number", ["report", "{tmp}/g"], ["seed0.json", 'test.test/linear_acc="abc"', "expected a number or null"], "string_for_number", unchanged=("g/results/**/*.json",), absent=("g/report.md",)),
    _row("report-seed-as-text", ["report", "{tmp}/g"], ["seed0.json", 'seed="0"', "expected an integer"], "seed_as_text", unchanged=("g/results/**/*.json",), absent=("g/report.md",)),
    _row("report-result-not-an-object", ["report", "{tmp}/g"], ["seed0.json", "holds an object, got list"], "list_result", unchanged=("g/results/**/*.json",), absent=("g/report.md",)),
    _row("compare-corrupt-event-file", ["compare", "{tmp}/logs"], ["events.out.tfevents", "not a TensorBoard event file"], "corrupt_event_file", unchanged=("logs/**/*",), absent=("logs/compare",)),
    # checkpoints: another input shape, cut short
    _row("checkpoint-other-shape-predict", ["predict", *IMAGE_FOLDER, "--ckpt_path", LAST], ["ckpt_path=", *SHAPE], "fit_and_images", unchanged=(f"{RUN}/**/*",), absent=()),
    _row("checkpoint-other-shape-resume", ["fit", *IMAGE_FOLDER, "--ckpt_path", LAST], ["ckpt_path=", *SHAPE], "fit_and_images", unchanged=(f"{RUN}/**/*",), absent=()),
    _row("checkpoint-other-shape-init-from", ["fit", *IMAGE_FOLDER, "--init_from", LAST], ["init_from=", *SHAPE], "fit_and_images", unchanged=(f"{RUN}/**/*",), absent=()),
    _row("checkpoint-truncated-test", ["test", *DEFAULT, "--ckpt_path", "{tmp}/cut.ckpt"], ["ckpt_path=", "cut.ckpt", "not a readable checkpoint"], "truncated_checkpoint", unchanged=("cut.ckpt",)),
    _row("checkpoint-truncated-check", ["check", "--config", "default", "--ckpt_path", "{tmp}/cut.ckpt"], ["--ckpt_path=", "cut.ckpt", "not a readable checkpoint"], "truncated_checkpoint", unchanged=("cut.ckpt",)),
    # sweeps: options refused before anything runs
    _row("grid-jobs-0", ["grid", "--out", "{tmp}/g", *GRID, "--jobs", "0"], ["--jobs 0", "expected an integer >= 1"], absent=("g",)),
    _row("grid-seeds-repeated", ["grid", "--out", "{tmp}/g", *GRID[:-4], "--seeds", "0", "0"], ["--seeds 0 0", "given twice"], absent=("g",)),
    _row("grid-epochs-0", ["grid", "--out", "{tmp}/g", *GRID[:-2], "--epochs", "0"], ["--epochs 0", "expected an integer >= 1"], absent=("g",)),
    _row("study-jobs-0", ["study", "g0_size", "--values", "1", "--out", "{tmp}/s", "--jobs", "0"], ["--jobs 0", "expected an integer >= 1"], absent=("s",)),
    _row("study-values-not-numbers", ["study", "g0_size", "--values", "abc", "--out", "{tmp}/s"], ["--values abc", "g0_size", "expected an integer"], absent=("s",)),
    _row("study-values-repeated", ["study", "max_distance", "--values", "1", "1", "--out", "{tmp}/s"], ["--values 1 1", "given twice"], absent=("s",)),
    _row("study-seeds-repeated", ["study", "g0_size", "--values", "1", "--seeds", "3", "3", "--out", "{tmp}/s"], ["--seeds 3 3", "given twice"], absent=("s",)),
    # what ran into a traceback: one line, earlier files kept
    _row("fit-lr-1e10-non-finite-loss", ["fit", *DEFAULT, *SHORT, "--model.init_args.optimizer.lr=1e10"], ["Training stopped", "finite", "learning rate too high"], "finished_fit", exit=1, unchanged=(f"{RUN}/**/*",), absent=(), alone=False),
    _row("predict-output-folder-read-only", ["predict", "--ckpt_path", LAST, "--trainer.callbacks+=structured_ssl.callbacks.prediction_writer.EmbeddingWriter", "--trainer.callbacks.output_dir=/proc/predictions"], ["output_dir='/proc/predictions'", "cannot be written"], "finished_fit", unchanged=(f"{RUN}/**/*",), absent=(f"{RUN}/predictions",)),
]  # fmt: skip

#: the kinds of file the library reads, and the rows that feed each a bad one
FILE_KINDS: dict[str, list[str]] = {
    kind: [row["id"] for row in CASES if row["id"].startswith(prefix)]
    for kind, prefix in (
        ("image", "image-"), ("config", "config-"), ("checkpoint", "checkpoint-"),
        ("result JSON", ("grid-truncated", "study-truncated", "report-")),
    )
}  # fmt: skip
