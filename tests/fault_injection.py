"""Test-only callbacks that break a run on purpose, at a chosen global step.

Loaded by ``structured-ssl fit`` subprocesses in tests/callbacks/test_resilience.py through
``--trainer.callbacks+=...`` with ``PYTHONPATH`` pointing here; never used by the library.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Any

import lightning as L
import torch


class SignalAtStep(L.Callback):
    """Send ``signal`` to this process at the START of the step taken after ``step`` steps,
    i.e. while that step runs (SIGKILL: the process dies at once; SIGTERM: Lightning's handler
    records it and the run stops at the end of that step)."""

    def __init__(self, step: int, signal: str = "SIGKILL") -> None:
        self.step = step
        self.signal = signal

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), getattr(signal, self.signal))


class PoisonBatch(L.Callback):
    """Fill the input images of the step taken after ``step`` steps with NaN."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.step:
            batch[0].fill_(float("nan"))


class RecordSteps(L.Callback):
    """Append one line per training step to a file: global step, batch index, a checksum of the
    batch, a digest of the torch RNG state before the step, and the loss (which steps ran, on
    what data, with which random draws). Rank r > 0 of a DDP run writes ``PATH.rankR``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._before = ""

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        data = float(batch[0].double().sum()) if torch.isfinite(batch[0]).all() else float("nan")
        rng = int(
            torch.get_rng_state().double().mul(torch.arange(1, 5057, dtype=torch.double)).sum()
        )
        self._before = f"{data:.6f} {rng}"

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        path = self.path if trainer.global_rank == 0 else f"{self.path}.rank{trainer.global_rank}"
        with open(path, "a") as f:
            f.write(
                f"{trainer.global_step} {batch_idx} {self._before} {float(torch.as_tensor(loss)):.10g}\n"
            )


class PauseAtStep(L.Callback):
    """On the first ``runs`` runs of a SLURM job (``SLURM_RESTART_COUNT`` < ``runs``): at the start
    of the step taken after ``step`` steps, create ``<marker>.<restart count>`` and wait there (at
    most ``timeout_s``) to be signalled, so a test can requeue a task at a known step. Draws no
    random numbers."""

    def __init__(self, step: int, marker: str, runs: int = 1, timeout_s: float = 120.0) -> None:
        self.step = step
        self.marker = marker
        self.runs = runs
        self.timeout_s = timeout_s

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
        if trainer.global_step != self.step or restarts >= self.runs:
            return
        with open(f"{self.marker}.{restarts}", "w") as f:
            f.write(f"{os.environ.get('SLURM_JOB_ID', '')}\n")
        deadline = time.monotonic() + self.timeout_s
        while not trainer.received_sigterm and time.monotonic() < deadline:
            time.sleep(0.05)


class _FullAfter:
    """A file that takes ``budget`` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, file: Any, budget: int) -> None:
        self.file, self.budget = file, budget

    def write(self, data: Any) -> int:
        if len(data) > self.budget:
            self.file.write(bytes(data[: self.budget]))
            self.budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.budget -= len(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


class FaultAtSave(L.Callback):
    """From the ``save``-th checkpoint write of this run on (0 = the first), ``fault`` acts on
    the file being written before torch.save does; earlier writes go through. Acts on the
    run's AtomicCheckpointIO write seam."""

    def __init__(self, save: int = 0) -> None:
        self.save = save

    def fault(self, file: Any) -> None:
        raise NotImplementedError

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        io = trainer.strategy.checkpoint_io
        count = [0]

        def write(checkpoint: dict, file: Any) -> None:
            count[0] += 1
            if count[0] > self.save:
                self.fault(file)
            torch.save(checkpoint, file)

        io.write = write


class FullDiskFrom(FaultAtSave):
    """From the ``save``-th checkpoint write on, the disk is full: torch.save gets 4096 bytes
    through, then ENOSPC (as a real full disk reports it, inside torch's zip writer)."""

    def fault(self, file: Any) -> None:
        file.file = _FullAfter(file.file, 4096)  # below the recording writer


class KillDuringSave(FaultAtSave):
    """SIGKILL this process in the middle of its ``save``-th checkpoint write (0 = the first),
    after 4096 bytes of the temporary file are written: a job killed mid-save."""

    def fault(self, file: Any) -> None:
        file.write(b"\0" * 4096)
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
