"""The colour cells through the real CLI: bad settings of the new groups end in ONE line before
any model is built, and each new cell of ``configs/cells.yaml`` fits one step."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_args import cell, fit_one_step

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

BAD = [
    (
        ["datasets/digits.yaml", "groups/hue.yaml"],
        [],
        "error: data channels=1: group.kind='hue' shifts hue, which needs RGB (3-channel) images",
    ),
    (
        ["datasets/digits.yaml", "groups/hue_crop.yaml"],
        [],
        "error: data channels=1: group.kind='hue_crop' shifts hue",
    ),
    (
        ["datasets/colour_digits.yaml", "groups/hue.yaml"],
        ["--model.init_args.group.order=40"],
        "error: group.order=40 is too large: a hue group here takes an order from 2 to 12",
    ),
    (
        ["datasets/colour_digits.yaml", "groups/hue.yaml"],
        ["--model.init_args.group.options.mixing_layers=7"],
        "error: group.options.mixing_layers=7: expected an integer from 0 to 4",
    ),
    (
        ["datasets/colour_digits.yaml", "groups/crop.yaml"],
        ["--model.init_args.group.scales=[1.0]"],
        "error: group.scales=[1.0] must list at least 2 positive, increasing scales",
    ),
]


@pytest.mark.parametrize(
    ("configs", "flags", "line"),
    BAD,
    ids=["grey-hue", "grey-hue-crop", "order", "mixing", "scales"],
)
def test_bad_colour_settings_are_one_line_before_the_build(
    configs: list[str], flags: list[str], line: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    def no_build(*args, **kwargs):
        raise AssertionError("a model was built for a bad input")

    monkeypatch.setattr("structured_ssl.encoders.factory.build_encoder", no_build)
    monkeypatch.setattr("structured_ssl.methods.base.build_encoder", no_build)
    arguments = ["--config", str(CONFIGS / "objectives" / "structured.yaml")]
    arguments += [a for c in configs for a in ("--config", str(CONFIGS / c))]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *arguments, f"--trainer.default_root_dir={tmp_path}", *flags])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(line), err
    assert not list(tmp_path.iterdir()), "a bad input left files behind"


CELLS = [
    ("structured", "hue"),
    ("augmentation", "hue"),
    ("unstructured", "hue"),
    ("structured", "crop"),
    ("augmentation", "crop"),
    ("structured", "hue_crop"),
    ("augmentation", "hue_crop"),
    ("jitter", "plain"),
]


@pytest.mark.parametrize(("objective", "group"), CELLS, ids=[f"{o}_{g}" for o, g in CELLS])
def test_each_new_cell_fits_a_step(objective: str, group: str, tmp_path: Path, capsys) -> None:
    printed = fit_one_step(cell("colour_digits", objective, group), tmp_path, capsys)
    assert "final val/probe_acc" in printed, "the fit trained and validated"
    assert "equivariance_error = " in printed, "the equivariance monitor ran"
