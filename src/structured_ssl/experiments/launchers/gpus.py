"""Which GPU each local run sees: one run per visible GPU, or several small runs packed on one.

Why here and not in the runs: a run started with ``CUDA_VISIBLE_DEVICES=<id>`` sees exactly one
GPU as ``cuda:0``, so a whole table of one-GPU runs fills an 8-GPU node (or shares one GPU)
without SLURM and without any run knowing about the others.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager


def visible_gpus(
    asked: str = "auto",
    environ: Mapping[str, str] | None = None,
    device_count: Callable[[], int] | None = None,
) -> list[str]:
    """The GPU ids runs may be placed on.

    ``asked``: "auto" (``CUDA_VISIBLE_DEVICES`` when set, else every GPU torch counts), "none"
    (no placement: today's CPU behaviour), or a comma-separated list of ids ("0,1,3").
    """
    if asked == "none":
        return []
    if asked != "auto":
        ids = [part.strip() for part in asked.split(",")]
        if not ids or any(not part for part in ids):
            raise ValueError(
                f"--gpus={asked!r}: expected auto, none or comma-separated GPU ids such as 0,1,3"
            )
        return ids
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [part.strip() for part in environ["CUDA_VISIBLE_DEVICES"].split(",") if part.strip()]
    if device_count is None:
        import torch

        device_count = torch.cuda.device_count
    return [str(i) for i in range(device_count())]


def gpu_slots(gpus: Sequence[str], runs_per_gpu: int = 1) -> list[str]:
    """One slot per run that may be active at once: every GPU ``runs_per_gpu`` times, GPUs
    interleaved (so the first runs spread over all GPUs before any GPU gets a second)."""
    if runs_per_gpu < 1:
        raise ValueError(f"--runs-per-gpu={runs_per_gpu}: expected an integer >= 1")
    return [gpu for _ in range(runs_per_gpu) for gpu in gpus]


class SlotPool:
    """Hands each starting run a free GPU slot and takes it back when the run ends (thread-safe)."""

    def __init__(self, slots: Sequence[str]) -> None:
        self._free: queue.SimpleQueue[str] = queue.SimpleQueue()
        for slot in slots:
            self._free.put(slot)

    @contextmanager
    def take(self) -> Iterator[str]:
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)
