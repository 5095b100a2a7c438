"""`structured-ssl reproduce`: the runs it would launch (its plan), none of them run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from structured_ssl.reporting.reproduce import ONE_GPU, SMALL, SMALL_PAPER_ENCODER, main, plan

REPO = Path(__file__).resolve().parents[2]


def planned_runs(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    main([*args, "--dry-run"])
    return [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("structured-ssl fit")
    ]


def test_one_gpu_plan_is_the_papers_table(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(REPO)
    runs = planned_runs(
        capsys,
        "--table",
        "1",
        "--dataset",
        "mnist",
        "--seeds",
        "0",
        "--gpus",
        "1",
        "--out",
        str(tmp_path),
    )
    keys = sorted(re.search(r"# -> (\S+)", run).group(1) for run in runs)
    assert keys == sorted(
        f"mnist/{o}_{g}/seed0"
        for o in ("augmentation", "structured", "frozen", "supervised")
        for g in ("rotation", "translation", "scale")
    )
    assert all(
        f"--config {ONE_GPU}" in run and "configs/paper/datasets/mnist.yaml" in run for run in runs
    )
    assert not any("--trainer.max_epochs" in run for run in runs)  # the recipe's 500 epochs


def test_one_gpu_overlay_keeps_the_global_batch() -> None:
    text = (REPO / ONE_GPU).read_text()
    assert "batch_size: 4096" in text and "devices: 1" in text


def test_several_gpus_split_the_global_batch(tmp_path) -> None:
    (call,) = plan(1, "cifar10", 8, tmp_path, [0])
    argv = " ".join(call.argv)
    assert (
        "trainer.devices=8" in argv
        and "data.init_args.batch_size=512" in argv
        and "sync_batchnorm=true" in argv
    )


def test_cpu_plan_is_the_digits_grid(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(REPO)
    runs = planned_runs(
        capsys,
        "--table",
        "2",
        "--dataset",
        "cifar10",
        "--seeds",
        "0",
        "--gpus",
        "0",
        "--out",
        str(tmp_path),
    )
    assert len(runs) == 8  # 4 objectives x MNIST's two Table 2 rows
    assert all("datasets/mnist.yaml" in run for run in runs)
    assert sum(f"--config {SMALL} " in run + " " for run in runs) == 4
    assert sum(str(SMALL_PAPER_ENCODER) in run for run in runs) == 4
    assert any("frozen" in run for run in runs) and any("supervised" in run for run in runs)


def test_bad_table_dataset_is_one_line(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--dataset tiny_imagenet: table 2 has"):
        plan(2, "tiny_imagenet", 1, tmp_path, [0])
