"""Shared helpers for the benchmarks: machine description, timing, tables."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable

import torch


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def machine() -> str:
    """One line naming what the numbers were measured on."""
    if torch.cuda.is_available():
        hw = f"GPU {torch.cuda.get_device_name(0)}"
    else:
        hw = f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return f"{hw}; torch {torch.__version__}; {torch.get_num_threads()} threads; python {platform.python_version()}"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_it(fn: Callable[[], object], repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds per call after warm-up."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb() -> float:
    """Peak memory of this process so far: CUDA allocator peak on GPU, max RSS on CPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""

    def fmt(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_rows(path, rows: list) -> None:
    """Save a benchmark's rows with the machine they ran on (``--json`` of the benchmarks)."""
    import json

    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
