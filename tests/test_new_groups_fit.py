"""`structured-ssl fit` trains the two new groups from their shipped configs (one fast step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_args import quiet

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "config",
    ["digits/structured_so2.yaml", "digits/augmentation_so2.yaml",
     "digits/structured_roto_translation.yaml", "digits/augmentation_roto_translation.yaml"],
)
def test_fit_runs_a_step(config: str, tmp_path: Path, capsys) -> None:
    main(["fit", "--config", str(REPO / "configs" / config), "--trainer.fast_dev_run=true",
          "--data.init_args.train_subset=64", "--data.init_args.batch_size=16", *quiet(tmp_path)])
    printed = capsys.readouterr().out
    assert "final val/probe_acc" in printed, "the fit trained and validated"
    assert "final val/fiber_equivariance_error" in printed or "final val/equivariance_error" in printed
