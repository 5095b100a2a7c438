"""`structured-ssl fit` trains the two new groups from their shipped configs (one fast step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_args import fit_one_step

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("objective", ["structured", "augmentation"])
@pytest.mark.parametrize("group", ["so2", "roto_translation"])
def test_fit_runs_a_step(objective: str, group: str, tmp_path: Path, capsys) -> None:
    """One config file per group: composed with an objective and a dataset as any other group."""
    configs = [f"objectives/{objective}.yaml", "datasets/digits.yaml", f"groups/{group}.yaml"]
    arguments = [a for c in configs for a in ("--config", str(REPO / "configs" / c))]
    printed = fit_one_step(arguments, tmp_path, capsys)
    assert "final val/probe_acc" in printed, "the fit trained and validated"
    assert (
        "final val/fiber_equivariance_error" in printed or "final val/equivariance_error" in printed
    )


NEW_GROUPS = REPO / "configs" / "paper" / "new_groups"


def new_group_cells():
    from structured_ssl.config.cells import offered_cells

    return list(offered_cells(NEW_GROUPS))


def test_the_new_groups_manifest_offers_its_cells() -> None:
    names = {c.name for c in new_group_cells()}
    assert {
        "structured_so2",
        "augmentation_so2",
        "frozen_so2",
        "structured_roto_translation",
        "augmentation_roto_translation",
        "structured_rotation_c8",
        "structured_rotation_c16",
    } <= names


@pytest.mark.parametrize("group", ["so2", "roto_translation", "rotation_c16"])
def test_new_group_cells_meet_their_bound_at_init(group: str) -> None:
    """`check` on the composed paper-protocol cell (with the small overlay, as the results ran)."""
    from structured_ssl.config.cells import Cell
    from structured_ssl.experiments.check import check_config

    configs, overrides = Cell("mnist", "structured", group).arguments(NEW_GROUPS)
    result = check_config(
        [*configs, str(REPO / "configs/paper/small.yaml")], images=4, overrides=overrides
    )
    assert result.passed and result.structured
    if group == "so2":
        assert {r.element for r in result.rows} >= {(0.3,), (1.0,), (2.5,)}, (
            "arbitrary angles are measured"
        )
