"""Bad input, round two (issue 23): a checkpoint never changes the experiment silently, files
and folders are checked before the build, class paths from files are checked before import.

Every case runs in-process through ``structured_ssl.cli.main`` with the encoder factory
replaced by one that fails the test if called: the one line must come before any model is
built. Checkpoints are crafted with ``torch.save`` (the refusals happen before any weight is
read into a model). docs/guides/bad-input.md lists the same cases.
"""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import pytest
import torch

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]
DEFAULT = str(REPO / "configs/default.yaml")
MNIST = [
    f"--config={REPO / p}"
    for p in (
        "configs/objectives/structured.yaml",
        "configs/datasets/mnist.yaml",
        "configs/groups/rotation_c4.yaml",
    )
]
C8_HPARAMS = {
    "_class_path": "structured_ssl.methods.StructuredSSL",
    "group": {
        "kind": "rotation",
        "order": 8,
        "scales": [1.0, 1.25, 1.33, 1.5, 1.66, 1.75],
        "continuous_augmentation": False,
        "options": None,
    },
    "encoder": {
        "architecture": "small",
        "structured": True,
        "widths": None,
        "padding_mode": "circular",
        "kernel_sizes": None,
        "rotation_conv": None,
        "scale_lifting": None,
    },
    "pairs": {
        "g0_size": 1,
        "max_distance": None,
        "pairs_per_image": 1,
        "allow_same_position": True,
    },
    "loss": {"class_path": "structured_ssl.ssl.losses.NTXent", "init_args": {"temperature": 0.1}},
    "projector": [128, 128, 128],
    "predictor": [128, 128],
    "ema_momentum": 0.996,
    "optimizer": {
        "name": "adamw",
        "lr": 0.002,
        "weight_decay": 0.0001,
        "momentum": 0.9,
        "warmup_epochs": 1.0,
        "lr_scaling": None,
        "probe_lr": 0.01,
    },
    "in_channels": 1,
    "image_size": 21,
    "num_classes": 10,
    "_instantiator": "lightning.pytorch.cli.instantiate_module",
}


@pytest.fixture
def no_model_build(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a model was built before the bad input was reported")

    monkeypatch.setattr("structured_ssl.methods.base.build_encoder", forbidden)


def one_line(args: list[str], capsys, tmp_path: Path) -> str:
    with pytest.raises(SystemExit) as info:
        main(
            [
                "fit",
                *args,
                f"--trainer.default_root_dir={tmp_path / 'runs'}",
                f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
            ]
        )
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not (tmp_path / "runs").exists(), "a refused run left a folder behind"
    return lines[0]


def checkpoint(tmp_path: Path, hparams: dict, name: str = "c8.ckpt") -> Path:
    path = tmp_path / name
    torch.save(
        {"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": dict(hparams), "global_step": 5},
        path,
    )
    return path


# ----------------------------------------------------------------------------- item 1
def test_flags_that_differ_from_the_checkpoint_are_refused_naming_both_values(
    tmp_path, capsys, no_model_build
) -> None:
    ckpt = checkpoint(tmp_path, C8_HPARAMS)
    line = one_line(
        [
            "--config",
            DEFAULT,
            "--model.init_args.group.kind=dihedral",
            "--model.init_args.group.order=4",
            f"--ckpt_path={ckpt}",
        ],
        capsys,
        tmp_path,
    )
    assert (
        "model.init_args.group.kind: 'dihedral' in the config, 'rotation' in the checkpoint" in line
    )
    assert "model.init_args.group.order: 4 in the config, 8 in the checkpoint" in line
    assert "--ckpt_path without --config" in line and "--init_from" in line


def test_another_objective_class_is_refused(tmp_path, capsys, no_model_build) -> None:
    ckpt = checkpoint(
        tmp_path, {**C8_HPARAMS, "_class_path": "structured_ssl.methods.AugmentationSSL"}
    )
    line = one_line(["--config", DEFAULT, f"--ckpt_path={ckpt}"], capsys, tmp_path)
    assert (
        "model.class_path: 'structured_ssl.methods.StructuredSSL' in the config, 'structured_ssl.methods.AugmentationSSL' in the checkpoint"  # noqa: E501
        in line
    )


def test_ckpt_path_and_init_from_together_are_refused(tmp_path, capsys, no_model_build) -> None:
    ckpt = checkpoint(tmp_path, C8_HPARAMS)
    line = one_line(
        ["--config", DEFAULT, f"--ckpt_path={ckpt}", f"--init_from={ckpt}"], capsys, tmp_path
    )
    assert "are both set" in line


def test_init_from_an_encoder_of_another_group_is_refused_before_the_build(
    tmp_path, capsys, no_model_build
) -> None:
    ckpt = checkpoint(tmp_path, C8_HPARAMS)
    line = one_line(
        ["--config", DEFAULT, "--model.init_args.group.order=4", f"--init_from={ckpt}"],
        capsys,
        tmp_path,
    )
    assert (
        "init_from=" in line
        and "model.init_args.group.order: 4 in the config, 8 in the checkpoint" in line
    )


def test_matching_config_and_trainer_limits_may_change(tmp_path, no_model_build) -> None:
    """Same model settings, other trainer limits: not refused (it reaches the build)."""
    ckpt = checkpoint(tmp_path, C8_HPARAMS)
    with pytest.raises(Exception, match="a model was built"):  # jsonargparse wraps it
        main(
            [
                "fit",
                "--config",
                DEFAULT,
                "--trainer.max_steps=30",  # above the checkpoint's global step 5: a resume that trains
                f"--ckpt_path={ckpt}",
                f"--trainer.default_root_dir={tmp_path}",
                f"--trainer.logger.init_args.save_dir={tmp_path}",
            ]
        )


def test_ckpt_path_alone_uses_the_runs_saved_config(tmp_path) -> None:
    from structured_ssl.experiments.resume_checks import with_saved_config

    version = tmp_path / "run" / "version_0"
    (version / "checkpoints").mkdir(parents=True)
    ckpt = checkpoint(version / "checkpoints", C8_HPARAMS, "last.ckpt")
    (version / "config.yaml").write_text("seed_everything: 0\n")
    assert with_saved_config(["fit", f"--ckpt_path={ckpt}"]) == [
        "fit",
        "--config",
        str(version / "config.yaml"),
        "--init_from=null",
        f"--ckpt_path={ckpt}",
    ]
    assert with_saved_config(["fit", "--config", DEFAULT, f"--ckpt_path={ckpt}"]) == [
        "fit",
        "--config",
        DEFAULT,
        f"--ckpt_path={ckpt}",
    ]


# ----------------------------------------------------------------------------- item 2
def test_a_truncated_checkpoint_is_one_line(tmp_path, capsys, no_model_build) -> None:
    whole = checkpoint(tmp_path, C8_HPARAMS).read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole[: len(whole) // 2])
    line = one_line(["--config", DEFAULT, f"--ckpt_path={cut}"], capsys, tmp_path)
    assert "cut.ckpt" in line and "not a readable checkpoint" in line


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--model.init_args.encoder.widths=[0,0,0]"],
            "encoder.widths=[0, 0, 0] is not allowed: expected positive integers",
        ),
        (["--model.init_args.encoder.widths=[8]"], "3 for architecture 'small'"),
    ],
)
def test_encoder_widths_are_checked(flags, expected, tmp_path, capsys, no_model_build) -> None:
    assert expected in one_line(["--config", DEFAULT, *flags], capsys, tmp_path)


def test_an_output_folder_that_is_a_file_or_unwritable(tmp_path, capsys, no_model_build) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit):
        main(["fit", "--config", DEFAULT, f"--trainer.default_root_dir={afile}"])
    assert "trainer.default_root_dir=" in capsys.readouterr().err and afile.read_text() == "x"
    with pytest.raises(SystemExit) as info:
        main(
            ["fit", "--config", DEFAULT, "--trainer.default_root_dir=/sys/structured-ssl-test"]
        )  # not writable, even by root
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "cannot be written" in err, err


def test_data_dir_empty_a_file_or_a_truncated_idx(tmp_path, capsys, no_model_build) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    line = one_line(
        [*MNIST, "--data.init_args.download=false", f"--data.init_args.data_dir={afile}"],
        capsys,
        tmp_path,
    )
    assert "is a file, expected a folder" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line(
        [*MNIST, "--data.init_args.download=false", f"--data.init_args.data_dir={empty}"],
        capsys,
        tmp_path,
    )
    assert "train-images-idx3-ubyte" in line and "data.download: true" in line
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, dims in (
        ("train-images-idx3-ubyte", (60, 28, 28)),
        ("train-labels-idx1-ubyte", (60,)),
        ("t10k-images-idx3-ubyte", (10, 28, 28)),
        ("t10k-labels-idx1-ubyte", (10,)),
    ):
        header = bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
        size = 1
        for d in dims:
            size *= d
        with gzip.open(raw / f"{name}.gz", "wb") as f:
            f.write(header + bytes(size if name != "train-images-idx3-ubyte" else size - 100))
    line = one_line(
        [
            *MNIST,
            "--data.init_args.download=false",
            f"--data.init_args.data_dir={tmp_path / 'data'}",
        ],
        capsys,
        tmp_path,
    )
    assert "train-images-idx3-ubyte.gz: truncated" in line


# ----------------------------------------------------------------------------- item 4
@pytest.fixture
def loud_module(tmp_path, monkeypatch):
    """A module whose import writes a marker file: a visible side effect."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "loud_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Evil: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("loud_mod", None)


def test_a_class_path_in_a_checkpoint_is_not_imported(
    tmp_path, capsys, loud_module, no_model_build
) -> None:
    ckpt = checkpoint(tmp_path, {**C8_HPARAMS, "_class_path": "loud_mod.Evil"})
    line = one_line(["--config", DEFAULT, f"--ckpt_path={ckpt}"], capsys, tmp_path)
    assert (
        "loud_mod.Evil" in line
        and "was not imported" in line
        and "STRUCTURED_SSL_ALLOW_CLASSES" in line
    )
    assert not loud_module.exists() and "loud_mod" not in sys.modules


def test_a_nested_loss_class_path_is_not_imported(
    tmp_path, capsys, loud_module, no_model_build
) -> None:
    ckpt = checkpoint(
        tmp_path, {**C8_HPARAMS, "loss": {"class_path": "loud_mod.Evil", "init_args": {}}}
    )
    assert "loss.class_path='loud_mod.Evil'" in one_line(
        ["--config", DEFAULT, f"--ckpt_path={ckpt}"], capsys, tmp_path
    )
    assert not loud_module.exists()


def test_offline_evaluation_checks_pretrained_class_before_import(loud_module) -> None:
    from structured_ssl.methods.linear_eval import pretrained_class

    with pytest.raises(ValueError, match="not imported"):
        pretrained_class({"_class_path": "loud_mod.Evil"})
    assert not loud_module.exists()
    assert (
        pretrained_class({"_class_path": "structured_ssl.methods.StructuredSSL"}) == "StructuredSSL"
    )


def test_a_user_allow_list_admits_a_class(monkeypatch) -> None:
    from structured_ssl.methods.class_paths import is_allowed

    assert not is_allowed("mypkg.MyMethod")
    monkeypatch.setenv("STRUCTURED_SSL_ALLOW_CLASSES", "mypkg.*")
    assert is_allowed("mypkg.MyMethod") and not is_allowed("mypkgx.MyMethod")


# ----------------------------------------------------------------------------- found by the fuzz
AUGMENTATION_SCALE = [
    f"--config={REPO / p}"
    for p in (
        "configs/objectives/augmentation.yaml",
        "configs/datasets/digits.yaml",
        "configs/groups/scale.yaml",
    )
]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--seed_everything=-1"], "seed_everything=-1 is not allowed: expected an integer from 0"),
        (["--data.init_args.seed=-3"], "data.init_args.seed=-3 is not allowed"),
        (["--data.init_args.image_size=null"], "data.init_args.image_size=None is not allowed"),
        (["--trainer.devices=1000000"], "trainer.devices=1000000 is more than this machine has"),
        (["--model.init_args.group.order=100"], "group.order=100 is too large"),
        (["--data.init_args.image_size=4097"], "image_size=4097 is not allowed"),
    ],
)
def test_settings_the_config_fuzz_found(flags, expected, tmp_path, capsys, no_model_build) -> None:
    assert expected in one_line(["--config", DEFAULT, *flags], capsys, tmp_path)


def test_a_null_for_a_float_setting_of_the_objective(tmp_path, capsys, no_model_build) -> None:
    line = one_line(
        [*AUGMENTATION_SCALE, "--model.init_args.max_shift_fraction=null"], capsys, tmp_path
    )
    assert "model.init_args.max_shift_fraction=None is not allowed" in line


def test_seed_everything_true_and_false_stay_lightnings_own_meanings() -> None:
    """true draws a random seed, false seeds nothing: the seed bound refuses only numbers."""
    from structured_ssl.config.field_checks import ConfigError, check_rules

    for allowed in (True, False, 0, 2**32 - 1):
        check_rules({"seed_everything": allowed})
    with pytest.raises(ConfigError, match="or false for none"):
        check_rules({"seed_everything": 2**32})
