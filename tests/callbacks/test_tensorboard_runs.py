"""TensorBoard runs that compare, read back with TensorBoard's own reader.

One short ``fit`` and then ``test``, ``validate`` and ``predict`` of its checkpoint, each
through the CLI: all four write into ONE version directory; hyperparameters reach the HParams
tab (key columns first, final linear accuracy first among metrics) and are not copied into
scalars; learning rates are logged per named parameter group; the epoch counter is filed under
``train/``; TensorBoard's Time Series (tag groups sorted by its own comparator, ported below,
the first two expanded) opens on the training curves, the one-point end-of-fit accuracies last.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from structured_ssl.callbacks.fit_summary import SUMMARY_GROUP
from structured_ssl.callbacks.hparams_logging import KEY_HPARAMS, hparams_summaries, metric_columns
from structured_ssl.callbacks.tb_logging import EPOCH_TAG, checkpoint_run
from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]
SHORT = [
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.log_every_n_steps=1", "--trainer.limit_val_batches=1",  # noqa: E501
    "--trainer.limit_test_batches=1", "--trainer.limit_predict_batches=1", "--trainer.num_sanity_val_steps=0",
    "--data.init_args.train_subset=256", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
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


def _number_end(tag: str, start: int) -> int:
    """End of the number starting before ``start`` (TensorBoard's natural-sort scanner)."""
    state, i = "natural", start
    while i < len(tag):
        c = tag[i]
        if state == "natural":
            if c == ".":
                state = "real"
            elif c in "eE":
                state = "exponent_sign"
            elif not c.isdigit():
                break
        elif state == "real":
            if c in "eE":
                state = "exponent_sign"
            elif not c.isdigit():
                break
        elif state == "exponent_sign":
            if not c.isdigit() and c not in "+-":
                break
            state = "exponent"
        elif not c.isdigit():
            break
        i += 1
    return i


def _as_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")  # JavaScript's Number() of e.g. "1e": NaN, compares neither way


def compare_tags(a: str, b: str) -> int:
    """TensorBoard's tag order (``compareTagNames`` in its web app, tensorboard 2.21): numbers
    compare by value, ``/`` and digits before any other character, others by code point."""
    i = j = 0
    while True:
        if i == len(a):
            return 0 if j == len(b) else -1
        if j == len(b):
            return 1
        if a[i] in "0123456789" and b[j] in "0123456789":
            i0, j0 = i, j
            i, j = _number_end(a, i + 1), _number_end(b, j + 1)
            x, y = _as_number(a[i0:i]), _as_number(b[j0:j])
            if x < y:
                return -1
            if x > y:
                return 1
            continue
        a_break, b_break = a[i] == "/" or a[i].isdigit(), b[j] == "/" or b[j].isdigit()
        if a_break and not b_break:
            return -1
        if b_break and not a_break:
            return 1
        if not a_break and a[i] != b[j]:
            return -1 if a[i] < b[j] else 1
        i, j = i + 1, j + 1


def timeseries_groups(tags: list[str]) -> list[str]:
    """Tag groups in the order TensorBoard's Time Series lists them (it expands the first two)."""
    ordered = sorted(set(tags), key=functools.cmp_to_key(compare_tags))
    return list(dict.fromkeys(tag.split("/", 1)[0] for tag in ordered))


def test_the_ported_tag_order_matches_tensorboards_rules() -> None:
    assert timeseries_groups(["val/a", "train/loss", "lr-AdamW/encoder"]) == [
        "lr-AdamW",
        "train",
        "val",
    ]
    assert sorted(
        ["step/x", "stepa", "step10", "step9"], key=functools.cmp_to_key(compare_tags)
    ) == [
        "step9",
        "step10",
        "step/x",
        "stepa",
    ], "numbers by value; a digit or '/' before a letter"
    assert timeseries_groups(["test_rotated/a", "test/b", "summary/c"]) == [
        "summary",
        "test",
        "test_rotated",
    ]


def time_series_tags(events: EventAccumulator) -> list[str]:
    """The tags Time Series shows with its default filter "All": scalars, images, histograms."""
    tags = events.Tags()
    return [*tags["scalars"], *tags["images"], *tags["histograms"]]


def test_time_series_opens_on_the_training_curves_and_files_the_fit_summary_last(run: Path) -> None:
    (version,) = (p for p in run.rglob("version_*") if p.is_dir())
    fit_events = accumulator(min(version.glob("events.out.tfevents.*")))  # the fit's own file
    groups = timeseries_groups(time_series_tags(fit_events))
    assert groups[:2] == ["lr-AdamW", "train"], groups
    assert len(fit_events.Scalars("train/loss")) >= 2, "the loss is a curve in this run"
    summary = [t for t in fit_events.Tags()["scalars"] if t.startswith(f"{SUMMARY_GROUP}/")]
    assert summary and all(len(fit_events.Scalars(t)) == 1 for t in summary), summary
    assert groups[-1] == SUMMARY_GROUP, groups
    everything = timeseries_groups(time_series_tags(accumulator(version)))
    assert everything[-1] == SUMMARY_GROUP and everything[0] == "lr-AdamW", everything


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
    assert metrics[:2] == [f"{SUMMARY_GROUP}/run_test_linear_acc", "test/linear_acc"]
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
