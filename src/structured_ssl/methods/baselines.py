"""The paper's two reference columns, on the same encoders and the same probe.

* [`Frozen`][structured_ssl.methods.baselines.Frozen]: a random, untrained backbone; only the linear
  probe learns. It tells whether self-supervision beat a random network (on MNIST rotation it did
  not, in the paper).
* [`Supervised`][structured_ssl.methods.baselines.Supervised]: backbone and linear layer trained end
  to end with the labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from structured_ssl.methods.base import SSLMethod


class Frozen(SSLMethod):
    """Untrained backbone + linear probe. The backbone's parameters never change: it is kept
    in eval mode (batch-norm statistics frozen too) and the optimizer sees only the probe.

    ``fit`` runs no training epoch (the paper's Frozen column trains nothing): the run stops
    before its first step, so ``test``'s linear evaluation (``TestLinearEval``) reads the
    untouched random backbone and its read-out, whatever ``trainer.max_epochs`` says. The
    online probe (``val/probe_acc``) therefore stays at its random initialisation; read
    ``test/linear_acc``.
    """

    uses_pairs = False

    def on_train_start(self) -> None:
        self.trainer.should_stop = True  # checked before the first epoch: zero epochs, zero steps

    def on_train_epoch_start(self) -> None:
        self.encoder.eval()

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            invariant = self.embed(x)
        loss = self.probe_loss(invariant, y)
        self.log("train/probe_loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return []


class Supervised(SSLMethod):
    """Backbone and linear layer (the probe) trained end to end with cross-entropy."""

    uses_pairs = False

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.probe(self.embed(x)), y)
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("probe.")]
