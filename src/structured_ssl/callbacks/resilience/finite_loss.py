"""Numerical faults: training stops with one clear line on a non-finite loss.

A NaN loss otherwise trains on silently (or is checkpointed).
[`FiniteLoss`][structured_ssl.callbacks.resilience.finite_loss.FiniteLoss] stops before the
optimizer step, naming the step and the logged terms that are not finite.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch

from structured_ssl.callbacks.resilience.preemption import last_checkpoint_path
from structured_ssl.ssl.losses import nonfinite_terms


def logged_step_terms(trainer: L.Trainer) -> dict[str, torch.Tensor]:
    """The values ``training_step`` logged in the current step, by name (e.g. ``train/loss``).

    Lightning hands logged values to callbacks (``callback_metrics``) only after
    ``on_train_batch_end``, i.e. after the optimizer step; to stop BEFORE it we read the step's
    result collection. Private Lightning API, so any surprise degrades to an empty dict.
    """
    try:
        results = trainer._results
        if results is None:
            return {}
        terms = {}
        for metric in results.values():
            value = getattr(metric, "_forward_cache", None)
            if metric.meta.fx == "training_step" and isinstance(value, torch.Tensor):
                terms[metric.meta.name] = value
        return terms
    except Exception:  # noqa: BLE001 - diagnostics only
        return {}


class FiniteLoss(L.Callback):
    """Stops training with `FloatingPointError` when the loss is NaN or infinite.

    Checked in ``on_before_backward``: before the gradients and the optimizer step, so the
    weights stay those of the last good step, and before ``on_train_batch_end``, so no
    checkpoint of the poisoned step is written (``last.ckpt`` stays the last good one; do not
    combine with ``OnExceptionCheckpoint``, which would save the poisoned batch-norm statistics).
    One device sync per step; under DDP one tiny all-reduce so that every rank stops together.

    Args:
        every_n_steps: 1 (default) checks every step as above. N > 1 keeps a flag ON THE DEVICE
            (no host synchronisation in the step) and reads it every N steps and at each epoch
            end: the run stops at most N - 1 steps late, and the checkpoints stay good when N
            divides ``every_n_train_steps`` of the step checkpoint (they are written after the
            check). What a GPU run pays per step for a sync is measured by benchmarks/gpu.py.
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(
                f"FiniteLoss every_n_steps={every_n_steps!r}: expected an integer >= 1"
            )
        self.every_n_steps = every_n_steps
        self._batch_idx = 0
        self._bad: torch.Tensor | None = None  # any non-finite loss since the last read (N > 1)
        self._since = 0  # global step of the first unread step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._batch_idx = batch_idx

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if self.every_n_steps == 1:
            local_bad = not bool(torch.isfinite(loss.detach()).all())
            bad = (
                trainer.strategy.reduce_boolean_decision(local_bad, all=False)
                if trainer.world_size > 1
                else local_bad
            )
            if bad:
                raise FloatingPointError(self.describe(trainer, loss, local_bad))
            return
        step_bad = ~torch.isfinite(loss.detach()).all()
        self._bad = step_bad if self._bad is None else self._bad | step_bad
        if (trainer.global_step + 1) % self.every_n_steps == 0:
            self._read(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_steps > 1:
            self._read(trainer)

    def _read(self, trainer: L.Trainer) -> None:
        """One host read of the device flag (and one all-reduce under DDP) for the last steps."""
        if self._bad is None:
            return
        local_bad, self._bad = bool(self._bad), None
        since, self._since = self._since, trainer.global_step + 1
        bad = (
            trainer.strategy.reduce_boolean_decision(local_bad, all=False)
            if trainer.world_size > 1
            else local_bad
        )
        if bad:
            last = last_checkpoint_path(trainer)
            kept = f"; the last good checkpoint is {last}" if os.path.exists(last) else ""
            raise FloatingPointError(
                f"Training stopped at global step {trainer.global_step} (epoch {trainer.current_epoch}): a non-finite "
                f"loss {'on this process' if local_bad else 'on another process'} in steps {since}..{trainer.global_step} "  # noqa: E501
                f"(FiniteLoss every_n_steps={self.every_n_steps}){kept}. Resume with --ckpt_path last, or rerun with "
                "every_n_steps=1 to stop at the step itself and name the loss term"
            )

    def describe(self, trainer: L.Trainer, loss: torch.Tensor, local_bad: bool) -> str:

        terms = logged_step_terms(trainer)
        bad = nonfinite_terms(terms) if terms else []
        where = f"at global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {self._batch_idx})"
        what = (
            f"non-finite loss terms: {', '.join(f'{n}={float(terms[n]):g}' for n in bad)}"
            if bad
            else f"total loss={float(loss.detach()):g}"
            if local_bad
            else "a non-finite loss on another process"
        )
        last = last_checkpoint_path(trainer)
        kept = (
            f"; the last good checkpoint {last} was not overwritten" if os.path.exists(last) else ""
        )
        return (
            f"Training stopped {where}: {what}. The optimizer step was not taken{kept}. Usual causes: a "
            "learning rate too high for the batch size, a too-low loss temperature, or a corrupt input "
            "batch; fix it and resume with --ckpt_path last"
        )
