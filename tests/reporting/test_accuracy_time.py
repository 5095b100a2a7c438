"""Accuracy against training seconds: LinearCurve logs it during a fit, compare draws it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_args import cell
from torch.utils.tensorboard import SummaryWriter

from structured_ssl.callbacks.linear_curve import ACCURACY_TAG, LinearCurve
from structured_ssl.callbacks.speed import EncoderSpeed
from structured_ssl.cli import main
from structured_ssl.reporting.accuracy_time import (
    SECONDS_TAG,
    collect_curves,
    points_markdown,
    write_accuracy_time,
)
from structured_ssl.reporting.run_reading import read_scalars

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real S-SSL and A-SSL translation fit (2 epochs each) with LinearCurve."""
    root = tmp_path_factory.mktemp("runs")
    for objective in ("structured", "augmentation"):
        main(
            [
                "fit",
                *cell("digits", objective, "translation"),
                "--trainer.max_epochs=2",
                "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=1",
                "--trainer.num_sanity_val_steps=0",
                "--data.init_args.train_subset=256",
                "--trainer.callbacks+=structured_ssl.callbacks.linear_curve.LinearCurve",
                "--trainer.callbacks.max_train=128",
                f"--trainer.logger.init_args.save_dir={root}",
                f"--trainer.default_root_dir={root}",
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
            ]
        )
    return root


def test_linear_curve_logs_accuracy_and_growing_training_seconds(runs: Path) -> None:
    directories = sorted({p.parent for p in runs.rglob("events.out.tfevents.*")})
    assert len(directories) == 2
    for directory in directories:
        scalars, _ = read_scalars(directory)
        accuracy, seconds = scalars[ACCURACY_TAG], scalars[SECONDS_TAG]
        assert len(accuracy) == len(seconds) == 2  # one point per epoch
        assert [p.step for p in accuracy] == [p.step for p in seconds]
        assert all(0.0 <= p.value <= 1.0 for p in accuracy)
        assert 0.0 < seconds[0].value < seconds[1].value  # cumulative training time


def test_compare_writes_the_accuracy_time_figure_and_points(
    runs: Path, tmp_path: Path, capsys
) -> None:
    main(["compare", str(runs), "--out", str(tmp_path)])
    assert "accuracy_time.png" in capsys.readouterr().out
    assert (tmp_path / "accuracy_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "accuracy_time.md").read_text()
    curves = collect_curves(runs)
    assert sorted(c.objective for c in curves) == ["AugmentationSSL", "StructuredSSL"]
    for curve in curves:
        assert curve.accuracy_tag == ACCURACY_TAG and curve.seconds_source == SECONDS_TAG
        scalars, _ = read_scalars(runs / curve.name)
        assert [round(p[1], 1) for p in curve.points] == [
            round(p.value, 1) for p in scalars[SECONDS_TAG]
        ]
        for epoch, seconds, accuracy in curve.points:
            assert (
                f"| {curve.objective} | {curve.seed} | {epoch} | {seconds:.1f} | {accuracy:.4f} |"
                in table
            )


def test_without_training_seconds_the_wall_time_since_the_first_event_is_used(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run" / "version_0"
    writer = SummaryWriter(str(run))
    writer.add_scalar("epoch", 0, 0, walltime=1000.0)
    writer.add_scalar("val/probe_acc", 0.5, 3, walltime=1010.0)
    writer.add_scalar("epoch", 1, 7, walltime=1019.0)
    writer.add_scalar("val/probe_acc", 0.75, 7, walltime=1020.0)
    writer.close()
    (curve,) = collect_curves(tmp_path)
    assert curve.accuracy_tag == "val/probe_acc" and curve.seconds_source == "wall time"
    assert [(e, round(s, 3), v) for e, s, v in curve.points] == [(1, 10.0, 0.5), (2, 20.0, 0.75)]
    assert "| 2 | 20.0 | 0.7500 |" in points_markdown([curve])


def test_no_curve_writes_nothing(tmp_path: Path) -> None:
    assert write_accuracy_time(tmp_path, tmp_path / "out") == {}
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"compile": "yes"}, "compile='yes'"), ({"memory_format": "nhwc"}, "memory_format='nhwc'")],
)
def test_encoder_speed_rejects_bad_values_in_one_line(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field) as error:
        EncoderSpeed(**kwargs)
    assert "\n" not in str(error.value)


def test_linear_curve_rejects_a_bad_interval() -> None:
    with pytest.raises(ValueError, match="every_n_epochs=0"):
        LinearCurve(every_n_epochs=0)


def test_channels_last_keeps_parameter_names_and_outputs() -> None:
    from structured_ssl.groups import Group
    from structured_ssl.methods import StructuredSSL

    torch.manual_seed(0)
    model = StructuredSSL(group=Group("translation")).eval()
    x = torch.rand(4, 1, 21, 21)
    before, names = model.embed(x), list(model.state_dict())
    EncoderSpeed(memory_format="channels_last").setup(None, model, "fit")  # type: ignore[arg-type]
    conv = next(
        m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1
    )
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    assert list(model.state_dict()) == names
    torch.testing.assert_close(model.embed(x), before, rtol=1e-4, atol=1e-5)


def test_compile_switch_compiles_in_place_so_checkpoint_keys_do_not_change() -> None:
    from structured_ssl.groups import Group
    from structured_ssl.methods import StructuredSSL

    model = StructuredSSL(group=Group("translation"))
    names = list(model.state_dict())
    EncoderSpeed(compile=True).setup(None, model, "fit")  # type: ignore[arg-type]
    assert (
        getattr(model.encoder, "_compiled_call_impl", None) is not None
    )  # compiled lazily, on first call
    assert list(model.state_dict()) == names  # not wrapped: no "_orig_mod." prefix
