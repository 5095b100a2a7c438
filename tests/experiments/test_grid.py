"""The grid runner: isolated fit+test runs per cell and seed, a filled table, resumable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from structured_ssl.experiments.grid import main as grid_main

REPO = Path(__file__).resolve().parents[2]
#: the tiniest real grid: 2 objectives x 1 group x 2 seeds, one short epoch each
TINY_GRID = [
    "--dataset", "digits",
    "--objectives", "structured", "frozen",
    "--groups", "translation",
    "--seeds", "0", "1",
    "--epochs", "1",
    "--configs", str(REPO / "configs"),
    "--set", "trainer.limit_train_batches=2",
    "--set", "trainer.limit_val_batches=1",
    "--jobs", "2",
]  # fmt: skip


def tiny_grid(base: Path) -> Path:
    """Run (or resume) the tiny grid into ``base/tiny-grid``; finished runs are skipped,
    so the report test reuses this test's runs when both run in one session."""
    out = base / "tiny-grid"
    grid_main([*TINY_GRID, "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def grid_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_grid(tmp_path_factory.getbasetemp())


def test_every_requested_cell_is_filled(grid_out: Path) -> None:
    results = sorted((grid_out / "results").rglob("*.json"))
    assert len(results) == 4
    for path in results:
        result = json.loads(path.read_text())
        assert 0.0 <= result["test"]["test/probe_acc"] <= 1.0
        assert "test_rotated/probe_acc" in result["test"]
        # the table's metric: TestLinearEval's converged logistic regression, on both test sets
        assert 0.0 <= result["test"]["test/linear_acc"] <= 1.0
        assert "test_rotated/linear_acc" in result["test"]
        assert (
            result["wall_time_s"]["fit"] > 0
            and result["wall_time_s"]["process"] > result["wall_time_s"]["fit"]
        )
        assert result["model"]["class"] in ("StructuredSSL", "Frozen")
    with (grid_out / "table.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["objective", "digits translation"]
    assert [r[0] for r in rows[1:]] == ["structured", "frozen"]
    for row in rows[1:]:
        assert "±" in row[1] and "n=" not in row[1], f"cell not filled by both seeds: {row}"
    table = (grid_out / "table.md").read_text()
    assert "mean ± std over seeds [0, 1]" in table and "wall time per run" in table


def test_rerun_skips_finished_runs(grid_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in (grid_out / "results").rglob("*.json")}
    grid_main([*TINY_GRID, "--out", str(grid_out)])
    assert capsys.readouterr().out.count("(result exists)") == 4
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_dry_run_prints_one_command_per_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    grid_main(
        [
            *TINY_GRID,
            "--objectives",
            "augmentation",
            "structured",
            "--dry-run",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "no config" not in out
    commands = [line for line in out.splitlines() if line.startswith("structured-ssl fit")]
    assert len(commands) == 4
    assert all("--seed_everything=" in c and "--data.init_args.seed=" in c for c in commands)
    assert (
        "--trainer.max_epochs=1" in commands[0] and "--trainer.limit_train_batches=2" in commands[0]
    )


def test_a_known_objective_a_dataset_does_not_offer_is_left_out_as_na(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """hybrid is offered for digits only: mnist/hybrid is named as left out, digits/hybrid runs."""
    grid_main(
        [*TINY_GRID, "--dataset", "digits", "mnist", "--objectives", "hybrid", "--dry-run",
         "--out", str(tmp_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "no config for mnist/hybrid_translation" in out
    commands = [line for line in out.splitlines() if line.startswith("structured-ssl fit")]
    assert len(commands) == 2 and all("digits.yaml" in c for c in commands)


def test_rerun_with_other_settings_is_refused(grid_out: Path) -> None:
    with pytest.raises(SystemExit, match="other configs or overrides"):
        grid_main([*TINY_GRID, "--epochs", "2", "--out", str(grid_out)])
