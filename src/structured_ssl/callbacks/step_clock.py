"""Seconds spent in training steps, without validation or other callbacks' work.

Why one clock: the fit summary's H-SSL/A-SSL table and the grid's result files
(``train_step_s``) both report what a training step costs; they time it the same way,
from each training batch's start to its end.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class StepClock(L.Callback):
    """Seconds spent in training batches (forward, backward, optimizer step), summed, and the
    number of batches timed (a subclass reads ``seconds`` and ``steps``)."""

    def __init__(self) -> None:
        self.seconds, self.steps, self._start = 0.0, 0, 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seconds += time.perf_counter() - self._start
        self.steps += 1
