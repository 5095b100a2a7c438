"""Accuracy against training seconds: a converged linear probe at validation epochs.

Why: H-SSL's headline benefit is accuracy per second (one forward instead of two). Drawing
it needs, at several points of ONE run, (a) a feature-quality number that does not lag like
the online SGD probe, and (b) the seconds spent training so far, without the evaluation
time itself (which is the same for both objectives on the same encoder and would blur the
comparison). [`LinearCurve`][structured_ssl.callbacks.linear_curve.LinearCurve] logs both at
validation ends:

* ``val/linear_curve_acc``: the frozen, eval-mode features of (a seeded subset of) the
  training set fit a logistic regression to convergence
  ([`fit_linear_classifier`][structured_ssl.callbacks.metrics.fit_linear_classifier], as
  `TestLinearEval` does at test), scored on the validation set;
* ``time/train_seconds``: wall seconds spent in training epochs so far (from the first
  training batch's epoch start to each epoch end; validation and callbacks excluded).

``structured-ssl compare`` draws one against the other
([`structured_ssl.reporting.accuracy_time`][structured_ssl.reporting.accuracy_time]).
"""

from __future__ import annotations

import time

import lightning as L
import torch

from structured_ssl.callbacks.metrics import fit_linear_classifier
from structured_ssl.callbacks.online_eval.shared import (
    class_count,
    epoch_due,
    train_and_val_embeddings,
)

ACCURACY_TAG = "val/linear_curve_acc"
SECONDS_TAG = "time/train_seconds"


class LinearCurve(L.Callback):
    """Log a converged linear probe's validation accuracy and the training seconds so far.

    Args:
        every_n_epochs: evaluate every n-th validation epoch (and at the last epoch).
        max_train: training images whose features fit the classifier (seeded subset).
        l2: the classifier's weight decay.
    """

    def __init__(
        self, every_n_epochs: int = 1, max_train: int | None = 2000, l2: float = 1e-4, seed: int = 0
    ) -> None:
        if int(every_n_epochs) < 1:
            raise ValueError(
                f"LinearCurve every_n_epochs={every_n_epochs}: must be a positive integer"
            )
        self.every_n_epochs, self.max_train, self.l2, self.seed = (
            int(every_n_epochs),
            max_train,
            l2,
            seed,
        )
        self.train_seconds = 0.0
        self._epoch_start: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning runs the epoch's validation BEFORE on_train_epoch_end when validating
        # every epoch, so the time is also banked (once) at validation start
        self._bank()

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._bank()

    def _bank(self) -> None:
        if self._epoch_start is not None:
            self.train_seconds += time.perf_counter() - self._epoch_start
            self._epoch_start = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not epoch_due(trainer, self.every_n_epochs):
            return
        with torch.inference_mode(False):
            embeddings = train_and_val_embeddings(trainer, pl_module, self.max_train, self.seed)
            if embeddings is None:
                return
            (x, y), (vx, vy) = embeddings
            classifier = fit_linear_classifier(x, y, class_count(pl_module, y), l2=self.l2)
            with torch.no_grad():
                accuracy = (classifier(vx).argmax(1) == vy).float().mean()
        pl_module.log(ACCURACY_TAG, accuracy, sync_dist=True)
        pl_module.log(
            SECONDS_TAG, torch.tensor(self.train_seconds, device=pl_module.device), sync_dist=True
        )

    def state_dict(self) -> dict[str, float]:
        return {"train_seconds": self.train_seconds}  # a resumed run keeps counting

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))
