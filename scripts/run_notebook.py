"""Execute notebooks/compare_baselines.ipynb with small fixed settings and write it back with outputs.

Why: a notebook committed without outputs shows nothing on a code host, and one committed with
outputs goes stale silently when its code changes. This script is the ONE way to regenerate it
(`make notebook`): it runs every cell in a fresh kernel with `SETTINGS` (the
``STRUCTURED_SSL_NOTEBOOK_*`` variables) and its logs in a relative folder (so that no output
names a path of this machine), refuses to write a notebook whose outputs hold a warning or an
absolute path, and records in the notebook's metadata (``structured_ssl``) a hash of the code cells'
sources and the settings, which ``tests/project/test_notebook.py`` compares with the committed cells.

    PYTHONPATH=src .venv/bin/python scripts/run_notebook.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "compare_baselines.ipynb"
METADATA_KEY = "structured_ssl"
#: the committed outputs' settings (the notebook's first Markdown cell states them)
SETTINGS = {"STRUCTURED_SSL_NOTEBOOK_EPOCHS": "3", "STRUCTURED_SSL_NOTEBOOK_TRAIN_SUBSET": "512"}
#: an absolute path of the machine that ran it (tests/project/test_notebook.py greps the committed file)
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|private|var)/")
#: a Python warning as `warnings` prints it (`file.py:12: UserWarning: ...`) or Lightning's
#: rank_zero_warn (`file.py:12: message`, no category)
WARNING_LINE = re.compile(r"Warning|\.py:\d+: ")


def code_hash(notebook: Any, settings: Mapping[str, str]) -> str:
    """sha256 of the code cells' sources (in order) and the settings they were run with."""
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    payload = json.dumps(
        {"code": sources, "settings": dict(sorted(settings.items()))}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def warning_lines(notebook: Any) -> list[str]:
    """stderr lines of the executed outputs that are warnings."""
    return [
        line
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
        for line in output.get("text", "").splitlines()
        if WARNING_LINE.search(line)
    ]


def execute(notebook: Any, settings: Mapping[str, str], logdir: Path, timeout: int = 1200) -> None:
    """Run every cell in a fresh python3 kernel (this interpreter) with ``settings`` set."""
    from nbclient import NotebookClient

    saved = dict(os.environ)
    os.environ.update(settings)
    # relative to the kernel's folder, so that the outputs name no path of this machine
    os.environ["STRUCTURED_SSL_NOTEBOOK_LOGDIR"] = os.path.relpath(logdir, NOTEBOOK.parent)
    # this interpreter's scripts first on PATH: the runs print `tensorboard`, not its full path
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved.get("PATH", "")])
    os.environ.setdefault(
        "OMP_WAIT_POLICY", "PASSIVE"
    )  # keep OpenMP threads from spinning on a shared CPU
    try:
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=timeout,
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def relative_outputs(notebook: Any, folder: Path = NOTEBOOK.parent) -> None:
    """Write the paths below the repository in the outputs relative to ``folder`` (the kernel's
    folder): Lightning's checkpoint callback resolves its folder to an absolute path, which
    the runs print ("checkpoint: ...", "Restoring states from ...")."""
    prefixes = {str(REPO.resolve()) + os.sep, str(REPO) + os.sep}
    relative = os.path.relpath(REPO, folder) + os.sep  # "../" from notebooks/

    def fix(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, relative)
        return text

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = fix(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = fix(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    (REPO / "runs").mkdir(exist_ok=True)  # git-ignored; the logs are removed afterwards
    with tempfile.TemporaryDirectory(prefix="notebook-", dir=REPO / "runs") as logdir:
        execute(notebook, SETTINGS, Path(logdir))
    relative_outputs(notebook)
    lines = [line for line in nbformat.writes(notebook).splitlines() if MACHINE_PATH.search(line)]
    if lines:
        print(f"{args.notebook}: not written, its outputs name machine paths:", file=sys.stderr)
        print("\n".join(lines[:20]), file=sys.stderr)
        return 1
    warnings = warning_lines(notebook)
    if warnings:
        print(
            f"{args.notebook}: not written, its outputs hold {len(warnings)} warning(s):",
            file=sys.stderr,
        )
        print("\n".join(warnings), file=sys.stderr)
        return 1
    notebook.metadata[METADATA_KEY] = {
        "code_sha256": code_hash(notebook, SETTINGS),
        "settings": SETTINGS,
    }
    nbformat.write(notebook, args.notebook)
    print(
        f"wrote {args.notebook} (code_sha256 {notebook.metadata[METADATA_KEY]['code_sha256'][:12]})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
