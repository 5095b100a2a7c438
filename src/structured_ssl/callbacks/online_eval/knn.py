"""Online kNN: weighted kNN accuracy of the invariant embedding at validation ends."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn

from structured_ssl.callbacks.metrics import KNN_K, KNN_TEMPERATURE, WeightedKNN
from structured_ssl.callbacks.online_eval.shared import (
    class_count,
    epoch_due,
    train_and_val_embeddings,
)


class OnlineKNN(L.Callback):
    """Weighted kNN accuracy of the invariant embedding, logged as ``val/knn_acc``.

    At every validation epoch end (not during the sanity check), the training set (or a
    fixed seeded subset of ``max_train`` images) forms the memory bank and the whole
    validation set is classified. Each process computes the same number (both sets are
    read whole, not sharded), so the mean Lightning logs over processes is that number.

    Args:
        k, temperature: the vote (InstDisc / solo-learn defaults); the run's saved
            ``config.yaml`` records them with the callback.
        max_train: cap on the memory bank size (cost grows linearly with it).
        every_n_epochs: evaluate every n-th validation epoch (and at the last epoch).
        seed: seeds the memory-bank subset.
    """

    def __init__(
        self,
        k: int = KNN_K,
        temperature: float = KNN_TEMPERATURE,
        max_train: int | None = 2000,
        every_n_epochs: int = 1,
        seed: int = 0,
    ) -> None:
        self.k = k
        self.temperature = temperature
        self.max_train = max_train
        self.every_n_epochs = max(1, every_n_epochs)
        self.seed = seed
        self._warned = False

    def knn_accuracy(self, trainer: L.Trainer, module: L.LightningModule) -> torch.Tensor | None:
        """The accuracy (None when the data module does not expose train and val sets)."""
        embeddings = train_and_val_embeddings(trainer, module, self.max_train, self.seed)
        if embeddings is None:
            if not self._warned:
                rank_zero_warn(
                    "OnlineKNN: the data module has no dataset('train'/'val'); skipping kNN"
                )
                self._warned = True
            return None
        (bank_x, bank_y), (val_x, val_y) = embeddings
        metric = WeightedKNN(
            bank_x,
            bank_y,
            k=self.k,
            temperature=self.temperature,
            num_classes=class_count(module, bank_y),
        )
        metric.update(val_x, val_y)
        return metric.compute()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not epoch_due(trainer, self.every_n_epochs):
            return
        accuracy = self.knn_accuracy(trainer, pl_module)
        if accuracy is not None:
            pl_module.log(
                "val/knn_acc", accuracy.to(pl_module.device), sync_dist=True
            )  # same on every rank
