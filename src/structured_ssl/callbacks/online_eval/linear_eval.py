"""The paper's linear evaluation at ``test``: a logistic regression fitted to convergence on
frozen train features, scored on each test set."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Dataset

from structured_ssl.callbacks.metrics import fit_linear_classifier
from structured_ssl.callbacks.online_eval.shared import (
    class_count,
    datamodule_set,
    extract_embeddings,
    subset_indices,
)
from structured_ssl.data.sampling import dataset_size


class TestLinearEval(L.Callback):
    """The paper's linear evaluation, run at ``test``: ``<set>/linear_acc`` per test set.

    The protocol (the paper names a linear classifier on detached features; the rest is this
    library's choice, stated here):

    * features: the model's ``embed`` (the encoder's read-out, ``encoders/readout.py``) of the
      un-augmented images, eval mode, no gradient, extracted ONCE per set in batches of
      ``batch_size`` on the model's device;
    * data: the WHOLE training split (``max_train=None``; a number takes a seeded subset);
    * classifier: multinomial logistic regression, inputs standardised with the training
      features' mean and std, L2 ``l2`` on the weights, fitted full-batch by L-BFGS (strong
      Wolfe line search) on the model's device; it stops when the largest gradient entry is
      below 1e-7, the loss changes by less than 1e-9, or after ``max_iter`` iterations
      ([`fit_linear_classifier`][structured_ssl.callbacks.metrics.fit_linear_classifier]);
    * scoring: each test set the data module names (``test``, ``test_rotated``) is classified
      whole; no test feature or label reaches the fit (``fitted`` keeps the classifier).

    The online probe (``test/probe_acc``) is trained by SGD alongside the encoder on
    train-mode features and lags behind it in short runs; this number does not. Every process
    computes the same value (sets read whole), so DDP needs no gathering.
    """

    def __init__(
        self,
        max_train: int | None = None,
        l2: float = 1e-4,
        seed: int = 0,
        max_iter: int = 200,
        batch_size: int = 2048,
    ) -> None:
        self.max_train, self.l2, self.seed = max_train, l2, seed
        self.max_iter, self.batch_size = max_iter, batch_size
        self.fitted: torch.nn.Module | None = None

    def fit(self, module: L.LightningModule, train: Dataset) -> None:
        """Fit the classifier on ``train``'s features only (kept in ``fitted``)."""
        with torch.inference_mode(False):
            indices = subset_indices(dataset_size(train), self.max_train, self.seed)
            x, y, _ = extract_embeddings(module, train, indices, self.batch_size, keep_images=False)
            self.fitted = fit_linear_classifier(
                x, y, class_count(module, y), l2=self.l2, max_iter=self.max_iter
            )

    def score(self, module: L.LightningModule, dataset: Dataset) -> torch.Tensor:
        """The fitted classifier's accuracy on the whole of ``dataset``."""
        assert self.fitted is not None, "fit() first"
        with torch.inference_mode(False):
            everything = torch.arange(dataset_size(dataset))
            tx, ty, _ = extract_embeddings(module, dataset, everything, self.batch_size, False)
            with torch.no_grad():
                return (self.fitted(tx).argmax(1) == ty).float().mean()

    def evaluate(
        self, module: L.LightningModule, train: Dataset, tests: dict[str, Dataset]
    ) -> dict[str, torch.Tensor]:
        """Fit on ``train`` only, then score each of ``tests``: ``{name: accuracy}``."""
        self.fit(module, train)
        return {name: self.score(module, dataset) for name, dataset in tests.items()}

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.fitted = None  # fitted again on this test's encoder, at the first set's end
        if datamodule_set(trainer, "train") is None:
            rank_zero_warn("TestLinearEval: the data module has no dataset('train'); skipping")

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        """Score a test set at its loader's last batch, so that Lightning's table shows its
        accuracy under that loader only (a value logged at the epoch's end is printed under
        every loader: ``test/linear_acc`` appeared twice)."""
        if batch_idx + 1 != trainer.num_test_batches[dataloader_idx]:
            return
        names = getattr(getattr(trainer, "datamodule", None), "test_sets", ("test",))
        train, test = (
            datamodule_set(trainer, "train"),
            datamodule_set(trainer, names[dataloader_idx]),
        )
        if train is None or test is None:
            return
        if self.fitted is None:
            self.fit(pl_module, train)
        accuracy = self.score(pl_module, test)
        name = names[dataloader_idx]
        pl_module.log(f"{name}/linear_acc", accuracy, sync_dist=True, add_dataloader_idx=False)
