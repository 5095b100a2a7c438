"""notebooks/compare_baselines.ipynb runs top to bottom (1 epoch per run, small train set)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "compare_baselines.ipynb"


def outputs_of(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if mime == "stream" and output.get("output_type") == "stream":
                found.append(output.get("text", ""))
            elif mime in output.get("data", {}):
                found.append(output["data"][mime])
    return found


def test_notebook_trains_three_runs_and_shows_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRUCTURED_SSL_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("STRUCTURED_SSL_NOTEBOOK_TRAIN_SUBSET", "256")
    monkeypatch.setenv("STRUCTURED_SSL_NOTEBOOK_LOGDIR", str(tmp_path))
    # the kernel is a fresh process: keep OpenMP threads from spinning on a shared CPU
    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # jupyter_client starts a kernel whose argv[0] is "python" with sys.executable (this venv);
    # a last cell (in memory only) checks that
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print('KERNEL', sys.executable)"))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()

    tables = [t for t in outputs_of(notebook, "text/markdown") if "| run |" in t]
    assert tables, "the comparison table was not displayed"
    rows = [line for line in tables[-1].splitlines()[2:] if line.startswith("| ")]
    assert len(rows) == 3
    table = tables[-1]
    for expected in (
        "StructuredSSL-C8-NTXent-seed0",
        "AugmentationSSL-C8-NTXent-seed0",
        "StructuredSSL-C8-unstructured-NTXent-seed0",
    ):
        assert expected in table
    for row in rows:  # fit and test both reached the table: rotated test accuracy is filled
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5] == "1" and cells[9] != "-", row
    assert outputs_of(notebook, "image/png"), "the validation curves were not displayed"
    assert f"KERNEL {sys.executable}" in "".join(outputs_of(notebook, "stream"))
    sessions = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(sessions) == 1 and (sessions[0] / "compare" / "table.csv").exists()
