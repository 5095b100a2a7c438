"""The default launcher: every run is a fresh local interpreter, ``jobs`` of them at once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from structured_ssl.experiments.launchers.base import report_outcome
from structured_ssl.experiments.runs import RunPaths, RunSpec, execute


class LocalLauncher:
    """Runs specs as subprocesses (:func:`structured_ssl.experiments.runs.execute`) from a thread pool.

    With ``jobs`` > 1 each run's CPU threads are capped so the runs share the cores.
    A run always starts afresh: what an unfinished earlier attempt left is removed first.
    """

    def __init__(self, jobs: int = 1, echo: bool = False) -> None:
        self.jobs = max(1, jobs)
        self.echo = echo

    def launch(self, specs: Sequence[RunSpec], out: Path) -> dict[str, dict[str, Any] | None]:
        threads = max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else None

        def one(item: tuple[int, RunSpec]) -> tuple[str, dict[str, Any] | None]:
            index, spec = item
            label = f"[{index}/{len(specs)}]"
            print(f"  {label} run  {spec.key}", flush=True)
            result = execute(spec, out, echo=self.echo and self.jobs == 1, threads=threads)
            report_outcome(label, spec, result, RunPaths(Path(out), spec.key).log_file)
            return spec.key, result

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return dict(pool.map(one, enumerate(specs, start=1)))

    def dry_run(self, specs: Sequence[RunSpec], out: Path) -> None:
        for spec in specs:
            configs = " ".join(f"--config {c}" for c in spec.configs)
            print(f"structured-ssl fit {configs} {' '.join(spec.overrides)}   # -> {spec.key}")
