"""The launcher interface, its command-line options, and the per-run progress line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from structured_ssl.experiments.results import as_percent, metric_value
from structured_ssl.experiments.runs import RunSpec, tail

LAUNCHERS = ("local", "slurm")
PROGRESS_METRIC = "test/linear_acc"


class Launcher(Protocol):
    """Runs specs whose results do not exist yet; each writes ``OUT/results/<key>.json``.

    ``launch`` may return before the runs end (a detached SLURM submission): runs missing from
    what it returns are still queued.
    """

    def launch(self, specs: Sequence[RunSpec], out: Path) -> dict[str, dict[str, Any] | None]:
        """Run every spec; return its result by key (None: the run failed)."""
        ...

    def dry_run(self, specs: Sequence[RunSpec], out: Path) -> None:
        """Print what ``launch`` would do, and do nothing."""
        ...


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and the SLURM launcher's options (they only apply with ``--launcher slurm``)."""
    from structured_ssl.experiments.launchers.slurm_options import add_slurm_arguments

    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="local: processes on this machine (--jobs at once); slurm: one job array via submitit",
    )
    parser.add_argument(
        "--gpus",
        default="auto",
        help="local launcher: GPUs to place runs on, one GPU per run via CUDA_VISIBLE_DEVICES "
        "(auto: the visible ones; none: no placement; or ids such as 0,1,3); with GPUs, "
        "GPUs x --runs-per-gpu runs go at once and --jobs is not used",
    )
    parser.add_argument(
        "--runs-per-gpu",
        "--runs_per_gpu",
        dest="runs_per_gpu",
        type=int,
        default=1,
        help="local launcher: runs packed on each GPU at once (small runs leave a GPU idle alone)",
    )
    add_slurm_arguments(parser)


def report_outcome(
    label: str, spec: RunSpec, result: dict[str, Any] | None, log: Path | None
) -> None:
    """One line per finished run (its metric and time), or the failure with its log's tail."""
    if result is None:
        where = f"; log: {log}\n{tail(log)}" if log is not None else ""
        print(f"  {label} FAILED {spec.key}{where}", flush=True)
        return
    seconds = result.get("wall_time_s", {}).get("process", float("nan"))
    value = metric_value(result, PROGRESS_METRIC)
    shown = (
        f"{PROGRESS_METRIC}={as_percent(PROGRESS_METRIC, value):.1f}"
        if value is not None
        else "no metric"
    )
    print(f"  {label} done {spec.key}: {shown} in {seconds:.1f} s", flush=True)
