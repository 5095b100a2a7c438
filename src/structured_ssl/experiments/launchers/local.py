"""The default launcher: every run is a fresh local interpreter, ``jobs`` of them at once, placed
on the GPUs this machine shows (see
[`structured_ssl.experiments.launchers.gpus`][structured_ssl.experiments.launchers.gpus])."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from structured_ssl.experiments.launchers.base import report_outcome
from structured_ssl.experiments.launchers.gpus import SlotPool, gpu_slots
from structured_ssl.experiments.runs import RunPaths, RunSpec, execute


class LocalLauncher:
    """Runs specs as subprocesses
    ([`structured_ssl.experiments.runs.execute`][structured_ssl.experiments.runs.execute]) from a
    thread pool.

    Without GPUs, ``jobs`` runs at once and each run's CPU threads are capped so the runs share
    the cores. With ``gpus`` (ids), ``len(gpus) x runs_per_gpu`` runs at once, each started with
    ``CUDA_VISIBLE_DEVICES`` set to the one GPU of its slot (``jobs`` is then not used): one run
    per GPU by default, or several small runs packed on each GPU.
    A run always starts afresh: what an unfinished earlier attempt left is removed first.
    """

    def __init__(
        self, jobs: int = 1, echo: bool = False, gpus: Sequence[str] = (), runs_per_gpu: int = 1
    ) -> None:
        self.slots = gpu_slots(list(gpus), runs_per_gpu)
        self.jobs = len(self.slots) if self.slots else max(1, jobs)
        self.echo = echo

    def launch(self, specs: Sequence[RunSpec], out: Path) -> dict[str, dict[str, Any] | None]:
        threads = max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else None
        pool = SlotPool(self.slots) if self.slots else None

        def one(item: tuple[int, RunSpec]) -> tuple[str, dict[str, Any] | None]:
            index, spec = item
            label = f"[{index}/{len(specs)}]"
            echo = self.echo and self.jobs == 1
            if pool is None:
                print(f"  {label} run  {spec.key}", flush=True)
                result = execute(spec, out, echo=echo, threads=threads)
            else:
                with pool.take() as gpu:
                    print(f"  {label} run  {spec.key} on GPU {gpu}", flush=True)
                    result = execute(
                        spec,
                        out,
                        echo=echo,
                        threads=threads,
                        extra_env={"CUDA_VISIBLE_DEVICES": gpu},
                    )
            report_outcome(label, spec, result, RunPaths(Path(out), spec.key).log_file)
            return spec.key, result

        with ThreadPoolExecutor(max_workers=self.jobs) as executor:
            return dict(executor.map(one, enumerate(specs, start=1)))

    def dry_run(self, specs: Sequence[RunSpec], out: Path) -> None:
        for spec in specs:
            configs = " ".join(f"--config {c}" for c in spec.configs)
            print(f"structured-ssl fit {configs} {' '.join(spec.overrides)}   # -> {spec.key}")
