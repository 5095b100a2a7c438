"""Shipped configs by name from any directory: --config NAME, cells, and config roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from structured_ssl.config.shipped_configs import (
    resolve_config,
    resolve_config_args,
    resolve_config_root,
    shipped_names,
    shipped_root,
)

REPO = Path(__file__).resolve().parents[2]


def test_names_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        Path(resolve_config("default")).read_text() == (REPO / "configs/default.yaml").read_text()
    )
    assert resolve_config("configs/paper/small.yaml") == str(shipped_root() / "paper/small.yaml")
    assert resolve_config("no/such") == "no/such", (
        "an unknown name reaches the parser's own error unchanged"
    )
    assert (resolve_config_root("configs") / "cells.yaml").is_file()
    assert resolve_config_root("paper") == shipped_root() / "paper"
    names = shipped_names()
    assert "default" in names and "paper/datasets/mnist" in names and "cells" not in names


def test_a_cell_name_expands_to_the_grids_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = resolve_config_args(
        ["fit", "--config", "digits/structured_translation", "--trainer.max_epochs=1"]
    )
    files = [Path(args[i + 1]).name for i, a in enumerate(args) if a == "--config"]
    assert files[:3] == ["structured.yaml", "digits.yaml", "translation.yaml"]
    assert any(a.startswith("--model.init_args.pairs.max_distance=") for a in args)
    assert args[0] == "fit" and args[-1] == "--trainer.max_epochs=1"


def test_a_path_that_exists_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert resolve_config("configs/default.yaml") == "configs/default.yaml"
    assert resolve_config_root("configs") == Path("configs")
