"""Bad settings fail before any training step, with a message naming the field and its value.

Each CLI case runs ``fit`` in-process with a step recorder attached; the recorder's file must
not exist afterwards (no step ran) and the exit status is 2 (a usage error, no traceback).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from structured_ssl.cli import main
from structured_ssl.config.config_checks import (
    ConfigError,
    check_batch_size,
    configured_processes,
)
from structured_ssl.config.data_checks import check_data_matches_model
from structured_ssl.config.model_checks import check_group_axis
from structured_ssl.data import DigitsDataModule
from structured_ssl.groups import Group
from structured_ssl.methods import AugmentationSSL, StructuredSSL
from structured_ssl.ssl.pairs import PairSampling

REPO = Path(__file__).resolve().parents[2]


def fit_fails(
    tmp_path: Path, capsys, *overrides: str, config: str | tuple[str, ...] = "configs/default.yaml"
) -> str:
    """Run ``fit`` with overrides; assert it exits 2 before any step; return stderr."""
    steps = tmp_path / "steps.txt"
    args = [
        "fit",
        *[
            item
            for path in ((config,) if isinstance(config, str) else config)
            for item in ("--config", str(REPO / path))
        ],
        f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.callbacks+="
        + json.dumps(
            {"class_path": "fault_injection.RecordSteps", "init_args": {"path": str(steps)}}
        ),
        *overrides,
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert not steps.exists(), "a training step ran before the error"
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["--model.init_args.group.kind=spiral"], ["group.kind", "spiral", "rotation", "dihedral"]),
        (
            ["--model.init_args.loss=structured_ssl.ssl.losses.Contrastive"],
            ["loss", "Contrastive", "structured_ssl.ssl.losses.NTXent"],
        ),
        (["--model.init_args.group.order=1"], ["group.order=1", "order >= 2"]),
        (["--model.init_args.pairs.g0_size=8"], ["pairs.g0_size=8", "at most 7"]),
        (["--model.init_args.pairs.max_distance=9"], ["pairs.max_distance=9", "[0, 4]"]),
        (
            ["--data.init_args.image_size=3", "--data.init_args.digit_size=2"],
            ["data.image_size=3", "at least 4"],
        ),
        (
            [
                "--model.init_args.group={kind: translation}",
                "--model.init_args.pairs.g0_size=2",
                "--data.init_args.image_size=8",
            ],
            ["data.image_size=8", "[2, 2]", "pairs.g0_size=2"],
        ),
        (["--data.init_args.batch_size=1"], ["data.batch_size=1", "at least 2"]),
        (["--data.init_args.train_subset=1"], ["data.train_subset=1"]),
    ],
    ids=[
        "group-kind",
        "loss",
        "group-order",
        "g0-size",
        "max-distance",
        "image-size",
        "translation-grid",
        "batch",
        "subset",
    ],
)
def test_bad_setting_is_named_before_any_step(
    tmp_path: Path, capsys, overrides: list[str], expected: list[str]
) -> None:
    err = fit_fails(tmp_path, capsys, *overrides)
    for text in expected:
        assert text in err, f"{text!r} missing from:\n{err[-2000:]}"


def test_missing_data_dir_is_named_before_any_step(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no-such-dir"
    err = fit_fails(
        tmp_path,
        capsys,
        f"--data.init_args.data_dir={missing}",
        "--data.init_args.download=false",
        config=(
            "configs/objectives/structured.yaml",
            "configs/datasets/mnist.yaml",
            "configs/groups/rotation_c4.yaml",
        ),
    )
    assert f"data.data_dir={str(missing)!r} does not exist" in err


def test_structured_objective_needs_a_group_axis() -> None:
    with pytest.raises(
        ConfigError, match=r"model.group=None: StructuredSSL reads its positive pairs"
    ):
        check_group_axis(StructuredSSL, None)
    check_group_axis(AugmentationSSL, None)  # invariant read-out needs no group axis
    check_group_axis(StructuredSSL, Group())


def test_channel_mismatch_between_data_and_encoder_is_named() -> None:
    data = DigitsDataModule()
    model = StructuredSSL(in_channels=3)
    with pytest.raises(
        ConfigError,
        match=r"model.in_channels=3 does not match the data: DigitsDataModule serves channels=1",
    ):
        check_data_matches_model(data, model)


def test_global_batch_names_processes_and_what_the_loss_needs() -> None:
    class ManyNegatives:
        min_global_batch = 64
        min_batch_reason = "enough negatives"

    check_batch_size(16, 1, 4, ManyNegatives())  # 16 x 4 processes = 64: enough
    with pytest.raises(ConfigError) as err:
        check_batch_size(16, 1, 2, ManyNegatives())
    message = str(err.value)
    assert (
        "data.batch_size=16" in message and "2 process(es)" in message and "= 32 pairs" in message
    )
    assert "at least 64 (enough negatives)" in message
    assert configured_processes({"devices": 4, "num_nodes": 2}) == 8
    assert configured_processes({"devices": "auto", "num_nodes": 1}) is None


def test_model_built_in_python_is_checked_too() -> None:
    with pytest.raises(
        ConfigError, match=r"pairs.max_distance=5.0 is larger than the rotation group allows"
    ):
        StructuredSSL(pairs=PairSampling(max_distance=5.0))
