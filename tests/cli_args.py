"""CLI arguments the tests share: logs under a temporary root, no progress bar or summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def quiet(root: Path) -> list[str]:
    return [
        f"--trainer.logger.init_args.save_dir={root}",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


def fit_one_step(arguments: list[str], root: Path, capsys: Any) -> str:
    """``structured-ssl fit`` of a config for one fast step on 64 images (logs under ``root``):
    what it printed. The tests that a group or a cell trains at all share this run."""
    from structured_ssl.cli import main

    main(
        [
            "fit",
            *arguments,
            "--trainer.fast_dev_run=true",
            "--data.init_args.train_subset=64",
            "--data.init_args.batch_size=16",
            *quiet(root),
        ]
    )
    return capsys.readouterr().out


REPO = Path(__file__).resolve().parents[1]


def cell(dataset: str, objective: str, group: str, root: str = "configs") -> list[str]:
    """``--config`` arguments (and overrides) of one composed grid cell (structured_ssl.config.cells)."""
    from structured_ssl.config.cells import Cell

    configs, overrides = Cell(dataset, objective, group).arguments(REPO / root)
    return [item for path in configs for item in ("--config", path)] + list(overrides)


def cell_of(cell_id: str) -> list[str]:
    """``cell()`` for an id ``[paper/]<dataset>/<objective>_<group>`` (the old file names' stems)."""
    *root, dataset, name = cell_id.split("/")
    objective, _, group = name.partition("_")
    return cell(dataset, objective, group, "/".join(["configs", *root]))


def merged_yaml(arguments: list[str]) -> dict:
    """The config files of ``--config`` arguments, deep-merged in order (plain YAML, no parsing)."""
    import yaml

    def merge(base: dict, extra: dict) -> dict:
        for key, value in extra.items():
            base[key] = (
                merge(dict(base.get(key) or {}), value)
                if isinstance(value, dict) and isinstance(base.get(key), dict | None)
                else value
            )
        return base

    files = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--config"]
    merged: dict = {}
    for path in files:
        merge(merged, yaml.safe_load(Path(path).read_text()) or {})
    return merged
