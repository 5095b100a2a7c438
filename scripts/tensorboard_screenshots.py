"""Screenshots of TensorBoard pages in headless Chromium, to check what a reader sees.

    PYTHONPATH=src .venv/bin/python scripts/tensorboard_screenshots.py [LOGDIR] [--out docs/figures/tensorboard]

Without LOGDIR it first trains one short run on the embedded digits (``fit`` of 3 epochs on
512 images, logged every step so the curves have points, then ``test`` of its checkpoint, into
a temporary directory). TensorBoard listens on
127.0.0.1 only; Chromium (``apt-get install chromium``) writes one PNG per dashboard. Chromium renders
WebGL in software (SwiftShader): with ``--disable-gpu`` TensorBoard's line charts stay empty
and only one-point markers are drawn.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: page name -> (URL fragment, window height): Time Series tall enough to show every group header
PAGES = {
    "scalars": ("#timeseries", 1800),
    "hparams": ("#hparams", 1000),
    "images": ("#images", 1000),
}


def short_run(root: Path) -> None:
    from structured_ssl.cli import main

    args = [
        "--config",
        str(REPO / "configs/default.yaml"),
        f"--trainer.default_root_dir={root}",
        "--trainer.max_epochs=3",
        "--trainer.log_every_n_steps=1",
        "--data.init_args.train_subset=512",
        "--trainer.enable_progress_bar=false",
    ]
    main(["fit", *args])
    (ckpt,) = root.rglob("last.ckpt")
    main(["test", *args, f"--ckpt_path={ckpt}"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir", nargs="?")
    parser.add_argument("--out", default=str(REPO / "docs/figures/tensorboard"))
    args = parser.parse_args(argv)
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if browser is None:
        sys.exit("error: no Chromium on PATH (apt-get install chromium)")
    logdir = Path(args.logdir) if args.logdir else Path(tempfile.mkdtemp(prefix="tb-shots-"))
    if not args.logdir:
        short_run(logdir)
    port = free_port()
    board = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(10)  # let TensorBoard read the event files: an early page draws no curves
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, (fragment, height) in PAGES.items():
            target = out / f"{name}.png"
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--enable-unsafe-swiftshader", "--hide-scrollbars",
                 f"--window-size=1400,{height}",
                 "--virtual-time-budget=15000", f"--screenshot={target}", f"http://127.0.0.1:{port}/{fragment}"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            print(f"wrote {target}")
    finally:
        board.terminate()
        board.wait(timeout=30)


if __name__ == "__main__":
    main()
