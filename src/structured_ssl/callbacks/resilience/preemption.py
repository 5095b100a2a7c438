"""Preemption: on SIGTERM, ``last.ckpt`` is saved at the next step boundary.

Lightning saves nothing on SIGTERM, so the steps since the last periodic checkpoint would be
lost; saving inside the signal handler can hang (Lightning#21406), so
[`PreemptionCheckpoint`][structured_ssl.callbacks.resilience.preemption.PreemptionCheckpoint]
saves outside it, at the step boundary after the signal.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_info


def last_checkpoint_path(trainer: L.Trainer) -> str:
    """Where ``--ckpt_path last`` will look: ``last.ckpt`` beside the ModelCheckpoint's files."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return os.path.join(
                callback.dirpath, callback.CHECKPOINT_NAME_LAST + callback.FILE_EXTENSION
            )
    return os.path.join(trainer.default_root_dir, "checkpoints", "last.ckpt")


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM (SLURM preemption or time limit, ``scancel``, Kubernetes), save ``last.ckpt``
    at the next training-step boundary; Lightning then stops the run.

    Lightning's own handler records the signal (``trainer.received_sigterm``); this callback
    only reads that flag, so nothing heavy happens inside the handler. Under DDP the ranks
    agree on the flag (one tiny all-reduce per step) so that all of them save at the same step.
    A SIGTERM during validation stops the run without a new checkpoint: resume then starts from
    the latest periodic one.
    """

    def __init__(self) -> None:
        self._saved_at_step = -1

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        signalled = bool(trainer.received_sigterm)
        if trainer.world_size > 1:
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled or self._saved_at_step == trainer.global_step:
            return
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        self._saved_at_step = trainer.global_step
        rank_zero_info(
            f"SIGTERM received: saved {path} at global step {trainer.global_step}; stopping"
        )
