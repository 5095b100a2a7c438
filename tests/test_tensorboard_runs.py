"""TensorBoard runs that compare, read back with TensorBoard's own reader.

One short ``fit`` and then ``test``, ``validate`` and ``predict`` of its checkpoint, each
through the CLI: all four write into ONE version directory; hyperparameters reach the HParams
tab (key columns first, final linear accuracy first among metrics) and are not copied into
scalars; learning rates are logged per named parameter group; the epoch counter is filed under
``train/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from structured_ssl.callbacks.hparams_logging import KEY_HPARAMS, hparams_summaries, metric_columns
from structured_ssl.callbacks.tb_logging import EPOCH_TAG, checkpoint_run
from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[1]
SHORT = [
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.log_every_n_steps=1", "--trainer.limit_val_batches=1",  # noqa: E501
    "--trainer.limit_test_batches=1", "--trainer.limit_predict_batches=1", "--trainer.num_sanity_val_steps=0",
    "--data.init_args.train_subset=64", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fit, then test, validate and predict of its last checkpoint; returns the save_dir."""
    root = tmp_path_factory.mktemp("tb")
    config = [
        "--config",
        str(REPO / "configs/default.yaml"),
        f"--trainer.default_root_dir={root}",
        *SHORT,
    ]
    main(["fit", *config])
    (ckpt,) = root.rglob("last.ckpt")
    for command in ("test", "validate", "predict"):
        main([command, *config, f"--ckpt_path={ckpt}"])
    return root


def accumulator(directory: Path) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


def test_test_validate_and_predict_of_a_checkpoint_log_into_the_fit_run(run: Path) -> None:
    versions = sorted(p for p in run.rglob("version_*") if p.is_dir())
    assert len(versions) == 1, [str(v.relative_to(run)) for v in versions]
    scalars = accumulator(versions[0]).Tags()["scalars"]
    assert {"train/loss", "test/linear_acc", "test/probe_acc"} <= set(scalars), scalars
    assert len(list(versions[0].glob("events.out.tfevents.*"))) >= 3, (
        "fit, test and validate each add an event file"
    )


def test_hyperparameters_go_to_the_hparams_tab_only(run: Path) -> None:
    (version,) = (p for p in run.rglob("version_*") if p.is_dir())
    events = accumulator(version)
    scalars = events.Tags()["scalars"]
    assert not [tag for tag in scalars if tag.startswith("hparams/") or tag == "hp_metric"], scalars
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/experiment"]
    ).experiment
    hparams = [h.name for h in experiment.hparam_infos]
    shown = [h.name for h in experiment.hparam_infos if h.differs]  # TensorBoard shows these first
    assert shown == [name for name in KEY_HPARAMS if name in hparams] == hparams[: len(shown)]
    assert {"objective", "group/kind", "group/order", "loss/class", "data/class"} <= set(shown)
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[:2] == ["summary/run_test_linear_acc", "test/linear_acc"]
    assert {"val/probe_acc", "test_rotated/probe_acc"} <= set(metrics)
    assert set(metrics[:5]) <= set(scalars), (
        "the first five (shown) columns name scalars the run logged"
    )
    start = plugin_data_pb2.HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["objective"].string_value == "StructuredSSL"
    assert (
        start.hparams["group/kind"].string_value == "rotation"
        and start.hparams["group/order"].number_value == 8
    )


def test_learning_rates_are_named_by_parameter_group_and_epoch_is_a_training_tag(run: Path) -> None:
    (version,) = (p for p in run.rglob("version_*") if p.is_dir())
    scalars = set(accumulator(version).Tags()["scalars"])
    assert {"lr-AdamW/encoder", "lr-AdamW/probe"} <= scalars, sorted(scalars)
    assert not [tag for tag in scalars if tag.startswith("lr-") and "/pg" in tag]
    assert EPOCH_TAG in scalars and "epoch" not in scalars


def test_checkpoint_run_only_for_a_checkpoint_inside_a_run(tmp_path: Path) -> None:
    version = tmp_path / "logs" / "MyRun" / "version_3"
    (version / "checkpoints").mkdir(parents=True)
    ckpt = version / "checkpoints" / "last.ckpt"
    assert checkpoint_run(ckpt) is None, "no hparams.yaml or event file: not a run"
    (version / "hparams.yaml").write_text("{}\n")
    assert checkpoint_run(ckpt) == (str(tmp_path / "logs"), "MyRun", 3)
    assert checkpoint_run(tmp_path / "elsewhere" / "model.ckpt") is None


def test_hparams_summaries_put_key_columns_first_and_write_no_metric_value() -> None:
    params = {
        "ema_momentum": 0.99,
        "encoder/width": 16,
        "objective": "StructuredSSL",
        "group/kind": "rotation",
    }
    experiment, start, _ = hparams_summaries(
        params, metric_columns(["train/loss"], ["test/probe_acc"])
    )
    data = plugin_data_pb2.HParamsPluginData.FromString(
        experiment.value[0].metadata.plugin_data.content
    )
    assert [h.name for h in data.experiment.hparam_infos][:2] == ["objective", "group/kind"]
    assert [h.differs for h in data.experiment.hparam_infos] == [True, True, False, False]
    assert [m.name.tag for m in data.experiment.metric_infos][-2:] == [
        "test/probe_acc",
        "train/loss",
    ]
    assert all(not v.HasField("simple_value") for v in experiment.value)
