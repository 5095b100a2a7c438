"""The CLI a new user runs: fit through LightningCLI, configs that parse, saved config."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from cli_args import cell, quiet
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]
#: the configs that run alone (the axis files compose into cells: tests/config/test_every_config.py)
CONFIGS = sorted(
    p
    for p in (REPO / "configs").rglob("*.yaml")
    if {"model", "data"} <= set(yaml.safe_load(p.read_text()) or {})
    and "class_path" in yaml.safe_load(p.read_text())["model"]
)


#: overlays laid over a cell or over default.yaml (composed by grid/reproduce or by the guides)
OVERLAYS = (
    "paper/small.yaml",
    "paper/small_paper_encoder.yaml",
    "paper/trainers/one_gpu.yaml",
    "trainers/one_gpu_fast.yaml",
    "datasets/image_folder.yaml",
    "datasets/image_folder_pretrain.yaml",
)


@pytest.mark.parametrize("overlay", ["trainers/one_gpu_fast.yaml", "trainers/one_gpu_bf16.yaml"])
def test_trainer_files_replace_the_default_trainer(overlay: str, capsys) -> None:
    """Trainer files (``--trainer FILE``) parse in place of the default config's trainer."""
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                "--config",
                "configs/default.yaml",
                "--trainer",
                str(REPO / "configs" / overlay),
                "--print_config",
            ]
        )
    assert exit_info.value.code in (0, None)
    assert yaml.safe_load(capsys.readouterr().out)["trainer"]


def test_every_config_file_is_a_cell_part_an_include_an_overlay_or_runs_alone() -> None:
    """No orphan config: each file is named by a composed cell, included by one (``trainer:
    ../trainers/x.yaml``, ``optimizer: ../optimizer.yaml``), an overlay, a manifest, or standalone."""
    from structured_ssl.config.cells import offered_cells

    used = {p.resolve() for p in CONFIGS}
    for root in ("configs", "configs/paper", "configs/paper/new_groups"):
        used.add((REPO / root / "cells.yaml").resolve())
        for c in offered_cells(REPO / root):
            for path in map(Path, c.arguments(REPO / root)[0]):
                used.add(path.resolve())
                text = yaml.safe_load(path.read_text()) or {}
                for include in (
                    text.get("trainer"),
                    ((text.get("model") or {}).get("init_args") or {}).get("optimizer"),
                ):
                    if isinstance(include, str):
                        used.add((path.parent / include).resolve())
    used |= {(REPO / "configs" / f).resolve() for f in OVERLAYS}
    every = {p.resolve() for p in (REPO / "configs").rglob("*.yaml")}
    assert every - used == set(), (
        f"config files no cell, include or overlay uses: {sorted(every - used)}"
    )
    assert len(CONFIGS) == 2  # default.yaml, eval/linear.yaml


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_every_config_parses(config: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"].startswith("structured_ssl.")
    assert "class_path" in printed["data"]


def test_fast_dev_run(tmp_path: Path) -> None:
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            "--trainer.fast_dev_run=true",
            *quiet(tmp_path),
        ]
    )


def test_one_real_epoch_writes_checkpoint_events_config_and_probe_accuracy(tmp_path: Path) -> None:
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            "--trainer.max_epochs=1",
            "--data.init_args.train_subset=256",
            *quiet(tmp_path),
        ]
    )
    run_dirs = [p.parent for p in tmp_path.rglob("events.out.tfevents.*")]
    assert run_dirs, "no TensorBoard event file was written"
    run = run_dirs[0]
    assert run.parent.name == "StructuredSSL-C8-NTXent-digits-seed0", (
        "run name encodes objective, group, loss, dataset, seed"
    )
    assert (run / "config.yaml").exists(), "the resolved config is saved next to the logs"
    assert list((run / "checkpoints").glob("*.ckpt")), "a checkpoint is written"
    assert (run / "checkpoints" / "last.ckpt").exists()
    events = EventAccumulator(str(run))
    events.Reload()
    accuracy = [e.value for e in events.Scalars("val/probe_acc")]
    assert accuracy and all(0.0 <= a <= 1.0 for a in accuracy)


def test_swapping_the_objective_is_one_file(tmp_path: Path) -> None:
    structured, augmentation = (
        cell("digits", "structured", "rotation"),
        cell("digits", "augmentation", "rotation"),
    )
    differing = [(a, b) for a, b in zip(structured, augmentation, strict=True) if a != b]
    assert differing == [
        (
            str(REPO / "configs/objectives/structured.yaml"),
            str(REPO / "configs/objectives/augmentation.yaml"),
        )
    ]
    # and in default.yaml it is one line, the class_path
    assert (
        "class_path: structured_ssl.methods.StructuredSSL"
        in (REPO / "configs/default.yaml").read_text()
    )


@pytest.mark.parametrize(
    "config",
    [
        ("structured", "rotation"),
        ("augmentation", "dihedral"),
        ("structured", "scale"),
        ("unstructured", "translation"),
    ],
    ids=lambda c: "_".join(c),
)
def test_bf16_mixed_precision_trains_every_encoder_family(
    config: tuple[str, str], tmp_path: Path
) -> None:
    """escnn (C_N, D_N), the Hermite scale conv and plain convs all run under bf16 autocast;
    losses compute in float32 (losses.py), so the logged loss is finite."""
    main(
        [
            "fit", *cell("digits", *config),
            "--trainer.precision=bf16-mixed", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1", "--data.init_args.train_subset=256", "--trainer.callbacks=[]",
            "--trainer.log_every_n_steps=1",
            *quiet(tmp_path),
        ]
    )  # fmt: skip
    events = EventAccumulator(str(next(tmp_path.rglob("events.out.tfevents.*")).parent))
    events.Reload()
    losses = [e.value for e in events.Scalars("train/loss")]
    assert losses and all(math.isfinite(v) for v in losses)
