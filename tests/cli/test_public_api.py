"""The top-level API is typed: mypy reads each public name as its real class or function (not
``Any``, as the lazy module ``__getattr__`` alone made it), so it catches a misspelt argument;
and the names type checkers see are the names the lazy import resolves at run time."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import structured_ssl

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "src" / "structured_ssl" / "__init__.py"

SNIPPET = """\
from structured_ssl import AugmentationSSL, Group, StructuredSSL, measure_equivariance
reveal_type(Group)
reveal_type(StructuredSSL)
reveal_type(AugmentationSSL)
reveal_type(measure_equivariance)
Group(ordr=8)
import structured_ssl
structured_ssl.StructuredSSSL
"""


def run_mypy(snippet: str, tmp_path: Path) -> list[str]:
    (tmp_path / "snippet.py").write_text(snippet)
    done = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--follow-imports=silent",
            "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache"),
            "--config-file", str(REPO / "pyproject.toml"), str(tmp_path / "snippet.py"),
        ],
        capture_output=True, text=True, cwd=tmp_path, env={"MYPYPATH": str(REPO / "src"), "PATH": ""},
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if line.startswith("snippet.py:")]


def test_mypy_reveals_the_real_classes_and_refuses_misspelt_names(tmp_path: Path) -> None:
    lines = run_mypy(SNIPPET, tmp_path)
    revealed = [line.split("Revealed type is ", 1)[1] for line in lines if "Revealed type" in line]
    assert len(revealed) == 4, lines
    assert "structured_ssl.groups.spec.Group" in revealed[0], revealed
    assert "StructuredSSL" in revealed[1] and "AugmentationSSL" in revealed[2], revealed
    assert all("Any" != r.strip('"') for r in revealed), revealed
    assert re.search(r"def \(encoder: ", revealed[3]), revealed
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 2, lines
    assert ':6: error: Unexpected keyword argument "ordr"' in errors[0], errors
    assert ':8: error: Module has no attribute "StructuredSSSL"' in errors[1], errors


def type_checking_imports() -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of the imports under ``if TYPE_CHECKING:`` in __init__.py."""
    tree = ast.parse(INIT.read_text())
    (block,) = [
        node for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    ]  # fmt: skip
    return {
        alias.asname or alias.name: (str(node.module), alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_typed_names_are_the_lazily_imported_ones() -> None:
    assert type_checking_imports() == structured_ssl._PUBLIC
    assert structured_ssl.__all__ == ["__version__", *structured_ssl._PUBLIC]  # same order


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    for name, (module, attribute) in structured_ssl._PUBLIC.items():
        assert getattr(structured_ssl, name) is getattr(importlib.import_module(module), attribute)
