"""Test-only callbacks that break a run on purpose, at a chosen global step.

Loaded by ``structured-ssl fit`` subprocesses in tests/test_resilience.py through
``--trainer.callbacks+=...`` with ``PYTHONPATH`` pointing here; never used by the library.
"""

from __future__ import annotations

import os
import signal
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

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), getattr(signal, self.signal))


class PoisonBatch(L.Callback):
    """Fill the input images of the step taken after ``step`` steps with NaN."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            batch[0].fill_(float("nan"))


class RecordSteps(L.Callback):
    """Append ``global_step`` after every training step to a file (which steps actually ran)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step} {batch_idx} {float(torch.as_tensor(loss)):.10g}\n")
