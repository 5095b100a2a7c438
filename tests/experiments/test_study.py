"""Parameter studies: one tiny run of each kind writes the CSVs and the PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from structured_ssl.experiments.study import PARAMETERS
from structured_ssl.experiments.study import main as study_main

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--dataset", "digits", "--seeds", "0", "--epochs", "1", "--configs", str(REPO / "configs"),
    "--set", "trainer.limit_train_batches=2", "--set", "trainer.limit_val_batches=1",
    "--set", "trainer.limit_test_batches=1", "--jobs", "2",
]  # fmt: skip


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_distance_study_puts_both_objectives_on_one_plot(tmp_path: Path) -> None:
    study_main(
        [
            "max_distance",
            "--values",
            "1",
            "--group",
            "translation",
            "--objectives",
            "structured",
            "augmentation",
            *TINY,
            "--out",
            str(tmp_path),
        ]
    )
    runs = rows(tmp_path / "study.csv")
    assert {r["objective"] for r in runs} == {"structured", "augmentation"}
    assert all(
        0 <= float(r["metric"]) <= 100 and float(r["fraction_of_max_distance"]) > 0 for r in runs
    )
    assert {r["objective"] for r in rows(tmp_path / "summary.csv")} == {
        "structured",
        "augmentation",
    }
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"


def test_group_order_study(tmp_path: Path) -> None:
    study_main(
        [
            "order",
            "--values",
            "4",
            "--group",
            "rotation",
            "--objectives",
            "structured",
            *TINY,
            "--out",
            str(tmp_path),
        ]
    )
    (run,) = rows(tmp_path / "study.csv")
    assert run["parameter"] == "order" and run["value"] == "4"
    assert (tmp_path / "study.png").exists()


def test_parameters_map_to_config_keys() -> None:
    assert PARAMETERS["max_distance"].override("2") == "--model.init_args.pairs.max_distance=2"
    assert PARAMETERS["g0_size"].override("3") == "--model.init_args.pairs.g0_size=3"
    assert (
        PARAMETERS["num_scales"].override("3") == "--model.init_args.group.scales=[1.0, 1.25, 1.33]"
    )


def test_order_is_refused_for_a_group_without_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        study_main(["order", "--values", "4", "--group", "scale", *TINY, "--out", str(tmp_path)])
