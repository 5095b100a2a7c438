"""notebooks/compare_baselines.ipynb: committed with current outputs, and runs top to bottom.

The fast tests read the committed file: every code cell has outputs, the hash that
``scripts/run_notebook.py`` recorded matches the code cells as they are now (edit a cell
without regenerating and they fail), and the outputs hold no warning. The slow one executes a
copy in memory (1 epoch per run, 256 training images).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "compare_baselines.ipynb"
REGENERATE = "regenerate it with `python scripts/run_notebook.py` (make notebook)"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "run_notebook", REPO / "scripts" / "run_notebook.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_notebook = load_script()


def outputs_of(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if mime == "stream" and output.get("output_type") == "stream":
                found.append(output.get("text", ""))
            elif mime in output.get("data", {}):
                found.append(output["data"][mime])
    return found


@pytest.fixture(scope="module")
def committed() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def test_committed_notebook_has_outputs_in_every_code_cell(
    committed: nbformat.NotebookNode,
) -> None:
    empty = [
        i for i, cell in enumerate(committed.cells) if cell.cell_type == "code" and not cell.outputs
    ]
    assert not empty, f"code cells {empty} of {NOTEBOOK.name} have no outputs; {REGENERATE}"
    assert (
        len(outputs_of(committed, "image/png")) == 2
    )  # test/linear_acc bars, accuracy against seconds


def test_committed_outputs_belong_to_the_current_code(committed: nbformat.NotebookNode) -> None:
    recorded = committed.metadata.get(run_notebook.METADATA_KEY)
    assert recorded, f"{NOTEBOOK.name} has no recorded code hash; {REGENERATE}"
    assert recorded["settings"] == run_notebook.SETTINGS, (
        f"settings changed since the outputs were made; {REGENERATE}"
    )
    current = run_notebook.code_hash(committed, recorded["settings"])
    assert recorded["code_sha256"] == current, (
        f"code cells changed since the outputs were made; {REGENERATE}"
    )


def test_first_markdown_cell_states_the_committed_settings(
    committed: nbformat.NotebookNode,
) -> None:
    intro = committed.cells[0]
    assert intro.cell_type == "markdown"
    for name, value in run_notebook.SETTINGS.items():
        assert f"{name}={value}" in intro.source, name


def test_committed_outputs_show_the_converged_accuracies_without_warnings(
    committed: nbformat.NotebookNode,
) -> None:
    assert run_notebook.warning_lines(committed) == []
    tables = "".join(outputs_of(committed, "text/markdown"))
    for objective in ("AugmentationSSL", "StructuredSSL"):
        assert f"| C8 | {objective} | 0 | 1 |" in tables  # its accuracy-time points
    assert "val/linear_curve_acc" in tables


def test_committed_notebook_names_no_path_of_the_machine_that_ran_it() -> None:
    """Its outputs name runs relative to the notebook (scripts/run_notebook.py runs it so)."""
    text = NOTEBOOK.read_text()
    found = sorted({match.group(0) for match in run_notebook.MACHINE_PATH.finditer(text)})
    assert found == [], f"{NOTEBOOK.name} names machine paths {found}: {REGENERATE}"
    assert run_notebook.MACHINE_PATH.search('"logs: /tmp/structured-ssl-notebook-x/run"')
    assert run_notebook.MACHINE_PATH.search("TensorBoard: /work/main/.venv/bin/tensorboard")
    assert not run_notebook.MACHINE_PATH.search("logs: ../runs/notebook-x/20261204/run")


def test_code_hash_changes_with_a_code_cell_or_the_settings(
    committed: nbformat.NotebookNode,
) -> None:
    original = run_notebook.code_hash(committed, run_notebook.SETTINGS)
    edited = nbformat.from_dict(committed)
    edited.cells[1].source += "\n# an edit"
    assert run_notebook.code_hash(edited, run_notebook.SETTINGS) != original
    assert (
        run_notebook.code_hash(
            committed, {**run_notebook.SETTINGS, "STRUCTURED_SSL_NOTEBOOK_EPOCHS": "4"}
        )
        != original
    )
    markdown_only = nbformat.from_dict(committed)
    markdown_only.cells[0].source += "\nprose"
    assert run_notebook.code_hash(markdown_only, run_notebook.SETTINGS) == original


def test_warning_lines_finds_python_and_lightning_warnings() -> None:
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="Seed set to 0\n/x/y.py:12: UserWarning: careful\n"
        ),
        nbformat.v4.new_output(
            "stream", name="stderr", text="/lightning/fit_loop.py:321: The number of batches\n"
        ),
        nbformat.v4.new_output("stream", name="stdout", text="a.py:1: not stderr\n"),
    ]
    found = run_notebook.warning_lines(nbformat.v4.new_notebook(cells=[cell]))
    assert found == [
        "/x/y.py:12: UserWarning: careful",
        "/lightning/fit_loop.py:321: The number of batches",
    ]


def test_notebook_trains_three_runs_and_shows_the_comparison(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:  # run the code, not the committed outputs
        if cell.cell_type == "code":
            cell.outputs = []
    # jupyter_client starts a kernel whose argv[0] is "python" with sys.executable (this venv);
    # a last cell (in memory only) checks that
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print('KERNEL', sys.executable)"))
    settings = {
        "STRUCTURED_SSL_NOTEBOOK_EPOCHS": "1",
        "STRUCTURED_SSL_NOTEBOOK_TRAIN_SUBSET": "256",
    }
    run_notebook.execute(notebook, settings, tmp_path, timeout=300)

    assert run_notebook.warning_lines(notebook) == []
    tables = [t for t in outputs_of(notebook, "text/markdown") if "| run |" in t]
    assert tables, "the comparison table was not displayed"
    rows = [line for line in tables[-1].splitlines()[2:] if line.startswith("| ")]
    assert len(rows) == 3
    table = tables[-1]
    for expected in (
        "StructuredSSL-C8-NTXent-digits-seed0",
        "AugmentationSSL-C8-NTXent-digits-seed0",
        "StructuredSSL-C8-unstructured-NTXent-digits-seed0",
    ):
        assert expected in table
    for (
        row
    ) in rows:  # fit and test both reached the table: test and rotated test accuracy are filled
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5] == "1" and cells[8] != "-" and cells[9] != "-", row
    points = [t for t in outputs_of(notebook, "text/markdown") if "| train seconds |" in t]
    assert points, "the accuracy-time points were not displayed"
    for objective in ("AugmentationSSL", "StructuredSSL"):
        assert f"| C8 | {objective} | 0 | 1 |" in points[-1]
    assert "unstructured" not in points[-1]
    assert (
        "val/linear_curve_acc" in points[-1] and "val/knn_acc" not in points[-1]
    )  # LinearCurve's, not a fallback
    assert len(outputs_of(notebook, "image/png")) == 2
    assert f"KERNEL {sys.executable}" in "".join(outputs_of(notebook, "stream"))
    sessions = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(sessions) == 1 and (sessions[0] / "compare" / "table.csv").exists()
    assert (sessions[0] / "compare" / "test_linear_acc.png").exists()
