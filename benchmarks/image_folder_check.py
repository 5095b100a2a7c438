"""What the image-folder check before a run costs, per 1000 files (docs/guides/own-data.md).

``ImageFolderDataModule.check_files`` opens every file once before training: header, size and
mode, plus a PNG's chunk checksums (``verify``) or, for other formats, a decode (JPEG at 1/8
scale). This writes N small images of each format into a temporary folder and times the check
(CPU process time, so other load on the machine counts less), and writes the table to
docs/results/benchmarks/image_folder_check.md.

    python benchmarks/image_folder_check.py --files 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from structured_ssl.data.image_files import check_image, open_image

OUT = (
    Path(__file__).resolve().parents[1]
    / "docs"
    / "results"
    / "benchmarks"
    / "image_folder_check.md"
)
FORMATS = {
    "PNG 64x64 RGB": (".png", 64),
    "JPEG 64x64 RGB": (".jpg", 64),
    "PNG 512x512 RGB": (".png", 512),
    "JPEG 512x512 RGB": (".jpg", 512),
}


def write_images(folder: Path, suffix: str, side: int, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        path = folder / f"{i:05d}{suffix}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def cpu_seconds(action, paths: list[Path]) -> float:
    start = time.process_time()
    for path in paths:
        action(path)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="images per format")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, side) in FORMATS.items():
            folder = Path(tmp) / name.replace(" ", "_")
            folder.mkdir()
            paths = write_images(folder, suffix, side, args.files)
            check = cpu_seconds(check_image, paths) * 1000 / args.files
            decode = cpu_seconds(open_image, paths) * 1000 / args.files
            rows.append(f"| {name} | {check:.2f} s | {decode:.2f} s |")
    text = "\n".join(
        [
            f"## Image-folder check before a run: CPU seconds per 1000 files ({args.files} files per format)",
            f"CPU {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}",
            "",
            "| format | the check (`check_image`) | a full decode (`open_image`, what training does per image) |",
            "|---|---|---|",
            *rows,
            "",
            f"Command: `python benchmarks/image_folder_check.py --files {args.files}` (process CPU time).",
        ]
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
