"""The habits `make lint` and the pre-commit hooks keep, run by the suite: the package type-checks
(mypy on src/, its configuration in pyproject.toml), and the hooks are the lint target's checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_mypy_is_clean_on_the_package(tmp_path: Path) -> None:
    # the cache goes to a tmp dir: nothing is written into the checkout
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPY_FORCE_COLOR": "0"},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Success: no issues found" in run.stdout


def test_pre_commit_hooks_are_the_lint_targets_checks() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    entries = {hook["id"]: hook["entry"] for hook in hooks}
    assert set(entries) == {"ruff", "ruff-format", "mypy"}
    lint = (REPO / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check" in lint and "ruff format --check" in lint and "mypy" in lint
    assert "ruff check" in entries["ruff"] and "ruff format" in entries["ruff-format"]
    assert "mypy" in entries["mypy"]


def test_ruff_check_and_format_are_clean() -> None:
    paths = ["src", "tests", "benchmarks", "scripts"]
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *paths], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout[-4000:]
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, (
        "run: ruff format src tests benchmarks scripts\n" + fmt.stdout[-4000:]
    )
