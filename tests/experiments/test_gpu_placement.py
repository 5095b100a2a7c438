"""The local launcher places runs on the GPUs it sees: one run per GPU, or several packed on
each, every run started with its own CUDA_VISIBLE_DEVICES. No GPU needed: the visible GPUs
are faked through the environment and a stand-in device count."""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from structured_ssl.experiments.launchers import local
from structured_ssl.experiments.launchers.choose import launcher_from_args
from structured_ssl.experiments.launchers.gpus import gpu_slots, visible_gpus
from structured_ssl.experiments.runs import RunSpec


def test_visible_gpus_follow_the_environment_then_torch() -> None:
    assert visible_gpus("auto", {"CUDA_VISIBLE_DEVICES": "3,5"}, lambda: 8) == ["3", "5"]
    assert visible_gpus("auto", {"CUDA_VISIBLE_DEVICES": ""}, lambda: 8) == []
    assert visible_gpus("auto", {}, lambda: 4) == ["0", "1", "2", "3"]
    assert visible_gpus("auto", {}, lambda: 0) == []  # a CPU machine: no placement
    assert visible_gpus("none", {"CUDA_VISIBLE_DEVICES": "0"}, lambda: 1) == []
    assert visible_gpus("0,2", {}, lambda: 0) == ["0", "2"]


def test_slots_spread_over_every_gpu_before_packing() -> None:
    assert gpu_slots(["0", "1", "2"], 1) == ["0", "1", "2"]
    assert gpu_slots(["0", "1"], 3) == ["0", "1", "0", "1", "0", "1"]
    assert gpu_slots([], 3) == []


@pytest.mark.parametrize(
    ("gpus", "per_gpu", "message"), [("0,,1", 1, "--gpus='0,,1'"), ("auto", 0, "--runs-per-gpu=0")]
)
def test_bad_placement_options_are_one_line(gpus: str, per_gpu: int, message: str) -> None:
    args = argparse.Namespace(launcher="local", jobs=1, echo=False, gpus=gpus, runs_per_gpu=per_gpu)
    with pytest.raises(SystemExit) as error:
        launcher_from_args(args)
    assert message in str(error.value) and "\n" not in str(error.value)


def fake_runs(monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict[str, Any]], Counter]:
    """Replace the subprocess with a short sleep that records the env and the busiest GPU load."""
    seen: list[dict[str, Any]] = []
    active: Counter = Counter()
    most: Counter = Counter()
    lock = threading.Lock()

    def execute(
        spec: RunSpec,
        out: Path,
        echo: bool = False,
        threads: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        gpu = (extra_env or {}).get("CUDA_VISIBLE_DEVICES")
        with lock:
            seen.append({"key": spec.key, "gpu": gpu, "threads": threads})
            active[gpu] += 1
            most[gpu] = max(most[gpu], active[gpu])
        time.sleep(0.05)
        with lock:
            active[gpu] -= 1
        return {"wall_time_s": {"process": 0.05}}

    monkeypatch.setattr(local, "execute", execute)
    return seen, most


def test_each_run_gets_one_gpu_and_at_most_runs_per_gpu_share_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    seen, most = fake_runs(monkeypatch)
    args = argparse.Namespace(launcher="local", jobs=1, echo=False, gpus="auto", runs_per_gpu=2)
    launcher = launcher_from_args(args)
    specs = [RunSpec(key=f"digits/cell/seed{i}", configs=()) for i in range(9)]
    results = launcher.launch(specs, tmp_path)
    assert sorted(results) == sorted(s.key for s in specs) and all(
        r is not None for r in results.values()
    )
    assert {r["gpu"] for r in seen} == {"3", "5"}  # every run sees exactly one of the visible GPUs
    assert max(most.values()) <= 2 and sum(most.values()) >= 3  # packed, but never past 2 per GPU
    assert launcher.jobs == 4


def test_without_gpus_the_launcher_keeps_its_cpu_behaviour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, _ = fake_runs(monkeypatch)
    launcher = local.LocalLauncher(jobs=2, gpus=[])
    launcher.launch([RunSpec(key=f"k{i}", configs=()) for i in range(3)], tmp_path)
    assert [r["gpu"] for r in seen] == [None] * 3 and launcher.jobs == 2
