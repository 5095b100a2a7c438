"""The CLI introduces itself, predict writes embeddings, and ordinary runs print no warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from structured_ssl.cli_help import all_commands, overview, unknown_command_message

REPO = Path(__file__).resolve().parents[2]
ENTRY = (
    "import sys; from structured_ssl.console import entry; sys.argv[0] = 'structured-ssl'; entry()"
)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The console script as a user runs it (warnings shown as Python shows them by default)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_help_lists_every_subcommand_with_one_line_each() -> None:
    text = overview()
    for command in [
        "fit",
        "validate",
        "test",
        "predict",
        "grid",
        "study",
        "check",
        "compare",
        "report",
        "configs",
    ]:
        assert sum(line.split()[:1] == [command] for line in text.splitlines()) == 1, command
    from structured_ssl.cli import PROJECT_COMMANDS

    assert set(PROJECT_COMMANDS) <= set(all_commands()), "a project command missing from the help"


def test_typo_suggests_the_nearest_of_all_commands(tmp_path: Path) -> None:
    assert "did you mean 'grid'?" in unknown_command_message("gridd")
    assert "did you mean 'configs'?" in unknown_command_message("config")
    done = run(["gridd"], tmp_path)
    assert (
        done.returncode == 2
        and done.stderr.count("\n") == 1
        and "did you mean 'grid'?" in done.stderr
    )


def test_version_and_help_exit_zero(tmp_path: Path) -> None:
    version = run(["--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == "structured-ssl 0.1.0"
    helped = run(["--help"], tmp_path)
    assert helped.returncode == 0 and "study" in helped.stdout and "predict" in helped.stdout


def test_fit_test_validate_predict_and_check_print_no_warning_and_predict_writes_embeddings(
    tmp_path: Path,
) -> None:
    small = [
        "--config",
        "default",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
    fit = run(
        [
            "fit",
            *small,
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.log_every_n_steps=1",
            "--trainer.limit_val_batches=1",
            "--data.init_args.train_subset=256",
        ],
        tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-2000:]
    (ckpt,) = tmp_path.glob("runs/*/version_0/checkpoints/last.ckpt")
    assert "Warning" not in fit.stderr and "round-trip" not in fit.stderr, fit.stderr
    # Lightning prints its warnings as "file.py:LINE: message", without the word Warning
    assert not re.search(r"\.py:\d+: ", fit.stderr), fit.stderr
    for command in ("test", "validate", "predict"):
        done = run([command, *small, "--ckpt_path", str(ckpt)], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "dirpath has changed" not in done.stderr and "Warning" not in done.stderr, (
            done.stderr
        )
    checked = run(
        ["check", "--config", "default", "--ckpt_path", str(ckpt), "--images", "2"], tmp_path
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "Warning" not in checked.stderr and "round-trip" not in checked.stderr, checked.stderr
    (written,) = tmp_path.glob("runs/*/version_*/predictions/embeddings-rank0.pt")
    record = torch.load(written)
    assert record["embeddings"].ndim == 2 and record["embeddings"].dtype == torch.float32
    assert len(record["embeddings"]) == len(record["labels"]) == len(record["indices"]) > 0
    assert sorted(record["indices"].tolist()) == list(range(len(record["indices"])))


@pytest.mark.parametrize("config", ["default", "groups/scale"])
def test_print_config_prints_no_warning(config: str, tmp_path: Path) -> None:
    args = (
        ["fit", "--config", "default"]
        + (["--config", config] if config != "default" else [])
        + ["--print_config"]
    )
    done = run(args, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "round-trip" not in done.stderr and "Warning" not in done.stderr, done.stderr
