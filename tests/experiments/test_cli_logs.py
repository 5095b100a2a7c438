"""A plain run through the console entry point: where logs go, what is printed, what is not.

One short in-process ``fit`` (``main()`` reading ``sys.argv``, as the console script does)
checks that logs follow ``--trainer.default_root_dir``, that the end-of-fit summary table
is printed with the TensorBoard command, and that none of the known spurious warnings
appears. A run that fails after the trainer is built leaves no empty version directory.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from pathlib import Path

import lightning as L
import pytest

from structured_ssl.cli import main
from structured_ssl.experiments.lightning_cli import silence_known_noise
from structured_ssl.experiments.trainer_setup import new_log_dir

REPO = Path(__file__).resolve().parents[2]
SHORT = [
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
    "--data.init_args.train_subset=64", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
]  # fmt: skip


class FailAtTrainStart(L.Callback):
    """Fails after the trainer, model and log directory exist, before any step."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise RuntimeError("injected failure at train start")


def test_plain_run_logs_under_default_root_dir_prints_the_summary_and_no_spurious_warning(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)  # a stray runs/ would appear here
    root = tmp_path / "root"
    argv = [
        "structured-ssl",
        "fit",
        "--config",
        str(REPO / "configs/default.yaml"),
        f"--trainer.default_root_dir={root}",
        *SHORT,
    ]
    monkeypatch.setattr(sys, "argv", argv)
    fake_slurm = tmp_path / "bin"  # a machine with SLURM installed (login node, CI): srun on PATH
    fake_slurm.mkdir()
    (fake_slurm / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake_slurm / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_slurm}:{os.environ['PATH']}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main()
    messages = [str(w.message) for w in caught]
    for noise in ("args parameter is intended", "py3nj", "LeafSpec", "`srun` command is available"):
        assert not [m for m in messages if noise in m], f"spurious warning {noise!r}"
    assert list(root.rglob("events.out.tfevents.*")), (
        "logs did not follow --trainer.default_root_dir"
    )
    assert not (tmp_path / "runs").exists()
    out = capsys.readouterr().out
    rows = re.findall(
        r"^  \| (this run's encoder|the same encoder, untrained \(Frozen\)|raw pixels, no encoder)"
        r"[^|]*\| (\d\.\d{3}) +\|$",
        out,
        re.M,
    )
    assert [name for name, _ in rows] == [
        "this run's encoder",
        "the same encoder, untrained (Frozen)",
        "raw pixels, no encoder",
    ], out
    assert all(0.0 <= float(value) <= 1.0 for _, value in rows)
    assert float(rows[2][1]) > 0.5, (
        "raw pixels: about 0.8 from these 64 training images (chance is 0.1)"
    )
    assert f"tensorboard --logdir {root}" in out


def test_a_run_failing_before_its_first_step_leaves_no_version_directory(tmp_path) -> None:
    args = [
        "fit", "--config", str(REPO / "configs/default.yaml"), f"--trainer.default_root_dir={tmp_path}", *SHORT,
        "--trainer.callbacks+={class_path: test_cli_logs.FailAtTrainStart}",
    ]  # fmt: skip
    with pytest.raises(RuntimeError, match="injected failure"):
        main(args)
    assert not list(tmp_path.rglob("version_*")), [str(p) for p in tmp_path.rglob("*")]


def test_an_existing_version_directory_is_never_treated_as_new(tmp_path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(save_dir=tmp_path, name="run", version=0)
    trainer = L.Trainer(logger=logger, enable_progress_bar=False, enable_model_summary=False)
    assert new_log_dir(trainer) == Path(logger.log_dir)
    Path(logger.log_dir).mkdir(parents=True)
    assert new_log_dir(trainer) is None, (
        "a directory that exists (a resumed run) must not be removed"
    )


def test_litlogger_tip_is_dropped_and_other_info_kept() -> None:
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    silence_known_noise()
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        rank_zero_info(
            "💡 Tip: try installing [litlogger](https://pypi.org/project/litlogger/) to enable LitLogger"
        )
        rank_zero_info("GPU available: False")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert records == ["GPU available: False"]


def test_escnn_py3nj_warning_is_silenced_once_the_package_is_imported() -> None:
    """escnn warns on import that py3nj is missing; a fresh process that imports this package
    and then escnn (as building a rotation encoder does) prints nothing."""
    import os
    import subprocess

    code = "from structured_ssl.encoders import build_encoder; import escnn.nn"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "py3nj" not in done.stderr, done.stderr
