"""`structured-ssl compare`: real runs in, one row per run out, values as TensorBoard logged them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from cli_args import cell
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter

from structured_ssl.cli import main
from structured_ssl.reporting.compare import collect
from structured_ssl.reporting.run_reading import find_runs

REPO = Path(__file__).resolve().parents[2]
OBJECTIVES = {"StructuredSSL": "structured", "AugmentationSSL": "augmentation"}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny real runs (S-SSL and A-SSL, C8, digits) with the digits trainer's callbacks."""
    root = tmp_path_factory.mktemp("runs")
    for config in OBJECTIVES.values():
        main(
            [
                "fit",
                *cell("digits", config, "rotation"),
                "--trainer.max_epochs=1",
                "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=1",
                "--trainer.num_sanity_val_steps=0",
                "--data.init_args.train_subset=256",
                f"--trainer.logger.init_args.save_dir={root}",
                f"--trainer.default_root_dir={root}",
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
            ]
        )
    return root


def accumulator(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    return events


def test_compare_prints_one_row_per_run_with_the_logged_values(
    logdir: Path, tmp_path: Path, capsys
) -> None:
    main(["compare", str(logdir), "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {
        r[0]: dict(zip(header, r, strict=True))
        for r in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])
    }
    assert len(rows) == 2
    with (tmp_path / "table.csv").open() as handle:
        exact = {r["run"]: r for r in csv.DictReader(handle)}
    for run in sorted({p.parent for p in logdir.rglob("events.out.tfevents.*")}):
        name = str(run.relative_to(logdir))
        row, csv_row = rows[name], exact[name]
        objective = run.parent.name.split("-")[0]
        assert (row["objective"], row["group"], row["loss"], row["seed"], row["epochs"]) == (
            objective,
            "C8",
            "NTXent",
            "0",
            "1",
        )
        events = accumulator(run)
        for column, tag in (
            ("val probe acc", "val/probe_acc"),
            ("val kNN acc", "val/knn_acc"),
            ("equivariance error", "val/equivariance_error"),
        ):
            value = events.Scalars(tag)[-1].value
            assert float(csv_row[column]) == pytest.approx(value, abs=1e-12), (name, tag)
            assert row[column] == (f"{value:.4f}" if column.endswith("acc") else f"{value:.3g}")
        assert row["rotated test acc"] == "-" and csv_row["rotated test acc"] == ""  # never tested
        assert float(row["s / epoch"]) > 0
    equivariance = {rows[n]["objective"]: float(exact[n]["equivariance error"]) for n in rows}
    assert equivariance["StructuredSSL"] < 1e-3  # escnn encoder, exact rotations
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert (tmp_path / "table.md").read_text().count("\n| ") == 3


def test_online_evaluation_views_are_in_the_event_files(logdir: Path) -> None:
    for run in sorted({p.parent for p in logdir.rglob("events.out.tfevents.*")}):
        events = accumulator(run)
        assert "val/fiber_similarity" in events.Tags()["images"]
        assert (run / "projector_config.pbtxt").exists(), "EmbeddingProjector wrote nothing"
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            events.PluginTagToContent("hparams")["_hparams_/experiment"]
        ).experiment
        declared = {m.name.tag for m in experiment.metric_infos}
        assert {
            "val/probe_acc",
            "val/knn_acc",
            "test_rotated/probe_acc",
            "test/linear_acc",
        } <= declared
        assert "group/kind" in {h.name for h in experiment.hparam_infos}
        saved = yaml.safe_load((run / "hparams.yaml").read_text())
        assert (
            "objective" not in saved and saved["group"]["kind"] == "rotation"
        )  # hparams.yaml left as written


def write_run(directory: Path, values: dict[str, list[tuple[int, float]]]) -> None:
    writer = SummaryWriter(str(directory))
    for tag, points in values.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    writer.close()


def test_test_stage_merges_into_its_run_and_missing_metrics_are_dashes(
    tmp_path: Path, capsys
) -> None:
    run = tmp_path / "StructuredSSL-C8-NTXent-seed0" / "seed0"
    write_run(run, {"epoch": [(9, 0), (19, 1)], "val/probe_acc": [(9, 0.5), (19, 0.625)]})
    write_run(run.with_name("seed0-test"), {"test_rotated/probe_acc": [(0, 0.375)]})
    (run / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "seed_everything": 3,
                "model": {
                    "class_path": "structured_ssl.methods.StructuredSSL",
                    "init_args": {
                        "group": {"kind": "dihedral", "order": 4},
                        "encoder": {"structured": False},
                    },
                },
            }
        )
    )
    assert find_runs(tmp_path) == [[run, run.with_name("seed0-test")]]
    (summary,) = collect(tmp_path)
    assert summary.curve == [(1, 0.5), (2, 0.625)] and summary.epochs == 2
    assert (summary.group, summary.seed, summary.rotated_acc) == ("D4-unstructured", "3", 0.375)
    main(["compare", str(tmp_path)])
    row = [line for line in capsys.readouterr().out.splitlines() if "seed0 |" in line][0]
    assert "| 0.6250 | - | - | 0.3750 | - |" in row
    assert (tmp_path / "compare" / "curves.png").exists()


def test_compare_without_runs_fails_clearly(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["compare", str(tmp_path)])
    assert "no TensorBoard event files" in capsys.readouterr().err
