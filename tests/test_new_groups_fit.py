"""`structured-ssl fit` trains the two new groups from their shipped configs (one fast step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_args import quiet

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("objective", ["structured", "augmentation"])
@pytest.mark.parametrize("group", ["so2", "roto_translation"])
def test_fit_runs_a_step(objective: str, group: str, tmp_path: Path, capsys) -> None:
    """One config file per group: composed with an objective and a dataset as any other group."""
    configs = [f"objectives/{objective}.yaml", "datasets/digits.yaml", f"groups/{group}.yaml"]
    main(["fit", *[a for c in configs for a in ("--config", str(REPO / "configs" / c))], "--trainer.fast_dev_run=true",
          "--data.init_args.train_subset=64", "--data.init_args.batch_size=16", *quiet(tmp_path)])
    printed = capsys.readouterr().out
    assert "final val/probe_acc" in printed, "the fit trained and validated"
    assert "final val/fiber_equivariance_error" in printed or "final val/equivariance_error" in printed
