"""Trainer settings whose meaning flips with the type arrive as written (issue 31, item 3).

``--trainer.limit_train_batches=1`` is ONE batch, ``1.0`` is all of them; the same for
``limit_val/test/predict_batches``, ``overfit_batches`` and ``val_check_interval``. jsonargparse
once turned 1 into 1.0 (see :func:`structured_ssl.experiments.trainer_setup.parse_counts_as_written`).
Both spellings are checked on the command line and in a YAML config, on the Trainer itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structured_ssl.data.base import ImageDataModule
from structured_ssl.experiments.lightning_cli import StructuredSSLCLI
from structured_ssl.experiments.trainer_setup import COUNT_OR_FRACTION
from structured_ssl.methods.base import SSLMethod

REPO = Path(__file__).resolve().parents[2]
WRITTEN = {  # setting -> (as written, what the Trainer must hold)
    "limit_train_batches": [("1", 1), ("1.0", 1.0), ("0.5", 0.5), ("3", 3)],
    "limit_val_batches": [("1", 1), ("1.0", 1.0)],
    "limit_test_batches": [("1", 1), ("1.0", 1.0)],
    "limit_predict_batches": [("1", 1), ("1.0", 1.0)],
    "val_check_interval": [("1", 1), ("1.0", 1.0), ("0.25", 0.25)],
    "overfit_batches": [("1", 1), ("0.5", 0.5)],
}


def trainer_of(args: list[str]):
    cli = StructuredSSLCLI(
        SSLMethod, ImageDataModule, subclass_mode_model=True, subclass_mode_data=True,
        run=False, args=args, auto_configure_optimizers=False,
    )  # fmt: skip
    return cli.trainer


def test_every_flipping_setting_is_covered() -> None:
    assert set(WRITTEN) == set(COUNT_OR_FRACTION)


@pytest.mark.parametrize("where", ["command line", "yaml"])
@pytest.mark.parametrize(
    ("key", "written", "expected"), [(k, w, e) for k, cases in WRITTEN.items() for w, e in cases]
)
def test_a_count_or_fraction_reaches_the_trainer_as_written(
    key: str, written: str, expected: float, where: str, tmp_path: Path
) -> None:
    args = [
        "--config",
        str(REPO / "configs/default.yaml"),
        f"--trainer.default_root_dir={tmp_path}",
    ]
    if where == "yaml":
        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(f"trainer:\n  {key}: {written}\n")
        args += ["--config", str(overlay)]
    else:
        args.append(f"--trainer.{key}={written}")
    trainer = trainer_of(args)
    value = getattr(trainer, key)
    if key == "overfit_batches":  # Lightning applies it to the train and val limits
        assert trainer.limit_train_batches == expected and trainer.limit_val_batches == expected
        assert type(trainer.limit_train_batches) is type(expected)
    else:
        assert value == expected and type(value) is type(expected), (key, written, value)
