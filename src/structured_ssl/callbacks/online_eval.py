"""Lightning callbacks that watch a pretraining run without touching its training.

Each callback has one job and costs little per epoch on the embedded digits:

* :class:`OnlineKNN` logs ``val/knn_acc`` (weighted kNN, see :mod:`structured_ssl.callbacks.metrics`);
* :class:`TestLinearEval` logs ``test/linear_acc`` and ``test_rotated/linear_acc``: a linear
  classifier fitted to convergence on frozen train features when ``test`` runs;
* :class:`EquivarianceMonitor` logs ``val/equivariance_error`` of the encoder;
* :class:`EmbeddingProjector` writes val embeddings, labels and thumbnails to TensorBoard's
  Projector;
* :class:`FiberSimilarityFigure` logs the centred fiber-to-fiber cosine similarity matrix
  and its mean against topographic distance: what structured SSL pulls together.

TensorBoard's HParams tab (hyperparameters WITH the run's final metrics) is
:class:`~structured_ssl.callbacks.hparams_logging.HParamsWithMetrics`, in its own module.

They read the model through the interface every objective shares: ``embed(x)`` (the
invariant embedding) and ``encoder`` (read through the encoder contract,
:class:`~structured_ssl.lifted.contract.EquivariantEncoder`), and the data through
``datamodule.dataset(name)``. Features are always extracted in eval mode without gradients
(batch-norm statistics must not drift, lightly#1840), and every module's mode is restored
afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from torch.utils.data import Dataset

from structured_ssl.callbacks.metrics import (
    KNN_K,
    KNN_TEMPERATURE,
    WeightedKNN,
    fit_linear_classifier,
)
from structured_ssl.data.sampling import dataset_size
from structured_ssl.encoders.equivariance import checked_elements, measure
from structured_ssl.lifted.contract import EquivariantEncoder
from structured_ssl.lifted.modes import eval_mode


# ----------------------------------------------------------------------------- helpers
def _dataset(trainer: L.Trainer, name: str) -> Dataset | None:
    datamodule = getattr(trainer, "datamodule", None)
    getter = getattr(datamodule, "dataset", None)
    if getter is None:
        return None
    try:
        return getter(name)
    except KeyError:
        return None


def _subset_indices(size: int, limit: int | None, seed: int) -> torch.Tensor:
    """A fixed, seeded subset (the same every epoch, so kNN curves compare like with like)."""
    if limit is None or limit >= size:
        return torch.arange(size)
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


@torch.no_grad()
def extract_embeddings(
    module: L.LightningModule,
    dataset: Dataset,
    indices: torch.Tensor,
    batch_size: int = 256,
    keep_images: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(embeddings, labels, images)`` of ``dataset[indices]`` through ``module.embed``.

    Runs with the whole module in eval mode (restored after), on the module's device.
    Images come back on the CPU (thumbnails), embeddings and labels on the device.
    """
    device = module.device
    # the SSL method's embed(x) -> (B, D) (LightningModule does not declare it)
    embed = cast(Callable[[torch.Tensor], torch.Tensor], module.embed)
    embeddings, labels, images = [], [], []
    with eval_mode(module):
        for chunk in indices.split(batch_size):
            x, y = _items(dataset, chunk)
            embeddings.append(embed(x.to(device)).float())
            labels.append(y.to(device))
            if keep_images:
                images.append(x)
    return torch.cat(embeddings), torch.cat(labels), torch.cat(images) if keep_images else None


def _items(dataset: Dataset, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch items by index: one fancy-indexing call for TensorDatasets, else item by item."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        return tensors[0][index], tensors[1][index]
    pairs = [dataset[int(i)] for i in index]
    return torch.stack([p[0] for p in pairs]), torch.as_tensor([int(p[1]) for p in pairs])


def _lifted_encoder(module: L.LightningModule) -> EquivariantEncoder | None:
    encoder = getattr(module, "encoder", None)
    return encoder if isinstance(encoder, EquivariantEncoder) else None


def _tensorboard(trainer: L.Trainer) -> Any | None:
    """The SummaryWriter of the first logger that is a TensorBoard one (None otherwise)."""
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_embedding"):
            return experiment
    return None


def _due(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """Every n-th epoch, and always on the last one (so short runs still log a final value)."""
    epoch, last = trainer.current_epoch + 1, trainer.max_epochs
    return epoch % every_n_epochs == 0 or (last is not None and last > 0 and epoch >= last)


def _batch_size(trainer: L.Trainer, default: int = 256) -> int:
    return int(getattr(getattr(trainer, "datamodule", None), "batch_size", default) or default)


# ----------------------------------------------------------------------------- kNN
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
        train, val = _dataset(trainer, "train"), _dataset(trainer, "val")
        if train is None or val is None:
            if not self._warned:
                rank_zero_warn(
                    "OnlineKNN: the data module has no dataset('train'/'val'); skipping kNN"
                )
                self._warned = True
            return None
        batch = _batch_size(trainer)
        bank_x, bank_y, _ = extract_embeddings(
            module, train, _subset_indices(dataset_size(train), self.max_train, self.seed), batch
        )
        val_x, val_y, _ = extract_embeddings(module, val, torch.arange(dataset_size(val)), batch)
        metric = WeightedKNN(
            bank_x,
            bank_y,
            k=self.k,
            temperature=self.temperature,
            num_classes=_num_classes(module, bank_y),
        )
        metric.update(val_x, val_y)
        return metric.compute()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not _due(trainer, self.every_n_epochs):
            return
        accuracy = self.knn_accuracy(trainer, pl_module)
        if accuracy is not None:
            pl_module.log(
                "val/knn_acc", accuracy.to(pl_module.device), sync_dist=True
            )  # same on every rank


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
      (:func:`~structured_ssl.callbacks.metrics.fit_linear_classifier`);
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
        self.max_train, self.l2, self.seed, self.max_iter, self.batch_size = (
            max_train,
            l2,
            seed,
            max_iter,
            batch_size,
        )
        self.fitted: torch.nn.Module | None = None

    def evaluate(
        self, module: L.LightningModule, train: Dataset, tests: dict[str, Dataset]
    ) -> dict[str, torch.Tensor]:
        """Fit on ``train`` only, then score each of ``tests``: ``{name: accuracy}``."""
        with torch.inference_mode(False):
            indices = _subset_indices(dataset_size(train), self.max_train, self.seed)
            x, y, _ = extract_embeddings(module, train, indices, self.batch_size, keep_images=False)
            self.fitted = fit_linear_classifier(
                x, y, _num_classes(module, y), l2=self.l2, max_iter=self.max_iter
            )
            accuracies = {}
            for name, dataset in tests.items():
                tx, ty, _ = extract_embeddings(
                    module,
                    dataset,
                    torch.arange(dataset_size(dataset)),
                    self.batch_size,
                    keep_images=False,
                )
                with torch.no_grad():
                    accuracies[name] = (self.fitted(tx).argmax(1) == ty).float().mean()
        return accuracies

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        train = _dataset(trainer, "train")
        names = getattr(getattr(trainer, "datamodule", None), "test_sets", ("test",))
        if train is None:
            rank_zero_warn("TestLinearEval: the data module has no dataset('train'); skipping")
            return
        tests = {
            name: dataset for name in names if (dataset := _dataset(trainer, name)) is not None
        }
        for name, accuracy in self.evaluate(pl_module, train, tests).items():
            pl_module.log(f"{name}/linear_acc", accuracy, sync_dist=True)


def _num_classes(module: L.LightningModule, labels: torch.Tensor) -> int:
    known = getattr(module, "num_classes", None)
    return int(known) if known else int(labels.max()) + 1


# ----------------------------------------------------------------------------- equivariance
class EquivarianceMonitor(L.Callback):
    """Equivariance of the encoder on validation images, measured as the ``check`` command does.

    Logs ``val/equivariance_error`` (lifted map), ``val/fiber_equivariance_error`` (the fiber
    map H-SSL pairs) and ``val/no_shift_fiber_error`` (the same with no action claimed), from
    :func:`structured_ssl.encoders.equivariance.measure` on the first ``max_images`` images of the first
    ``num_batches`` validation batches and ``num_elements`` of the checked elements (all when
    None), drawn anew each epoch. A bound that holds at initialisation says little about the
    encoder at epoch N, so when a structured encoder drifts past its own bound this warns once
    per epoch with the numbers (``warn=False`` silences it).
    """

    def __init__(
        self,
        num_batches: int = 1,
        num_elements: int | None = None,
        max_images: int | None = 32,
        warn: bool = True,
    ) -> None:
        self.num_batches = num_batches
        self.num_elements = num_elements
        self.max_images = max_images
        self.warn = warn

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking or dataloader_idx != 0 or batch_idx >= self.num_batches:
            return
        encoder = _lifted_encoder(pl_module)
        if encoder is None:
            return
        elements = checked_elements(encoder)
        if not elements:
            return
        if self.num_elements is not None and self.num_elements < len(elements):
            elements = random.Random(trainer.current_epoch * 1009 + batch_idx).sample(
                elements, self.num_elements
            )
        x = batch[0][: self.max_images]
        rows = measure(encoder, x, elements)
        values = {
            "val/equivariance_error": sum(r.lifted for r in rows) / len(rows),
            "val/fiber_equivariance_error": sum(r.fiber for r in rows) / len(rows),
            "val/no_shift_fiber_error": sum(r.baseline for r in rows) / len(rows),
        }
        for name, value in values.items():
            pl_module.log(
                name, value, on_step=False, on_epoch=True, batch_size=len(x), sync_dist=True
            )
        bound = encoder.equivariance_bound()
        missed = [r for r in rows if not r.within(bound)]
        if self.warn and missed and bound is not None:
            w = max(missed, key=lambda r: r.fiber)
            rank_zero_warn(
                f"epoch {trainer.current_epoch}: the encoder drifted past its equivariance bound ({bound.describe()}): "
                f"fiber error {w.fiber:.3g} (no-shift {w.baseline:.3g}) at g={w.element}; H-SSL pairs are no longer "
                "related by the group action"
            )


# ----------------------------------------------------------------------------- TensorBoard views
class EmbeddingProjector(L.Callback):
    """Val embeddings with labels and thumbnails in TensorBoard's Projector tab.

    Written at the end of fit, and also every ``every_n_epochs`` validation epochs when set.
    Uses the first ``max_samples`` validation images (a fixed set, so snapshots compare).
    Needs a TensorBoardLogger; without one it does nothing.
    """

    def __init__(
        self, every_n_epochs: int | None = None, max_samples: int = 500, tag: str = "val/embedding"
    ) -> None:
        self.every_n_epochs = every_n_epochs
        self.max_samples = max_samples
        self.tag = tag

    @rank_zero_only
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer, val = _tensorboard(trainer), _dataset(trainer, "val")
        if writer is None or val is None:
            return
        indices = torch.arange(min(self.max_samples, dataset_size(val)))
        features, labels, images = extract_embeddings(pl_module, val, indices, _batch_size(trainer))
        if images is None:  # keep_images (the default) returns them
            raise RuntimeError("extract_embeddings returned no images")
        writer.add_embedding(
            features.cpu(),
            metadata=[str(int(y)) for y in labels],
            label_img=images.float().clamp(0, 1),
            global_step=trainer.global_step,
            tag=self.tag,
        )

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not self.every_n_epochs:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.write(trainer, pl_module)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_epochs and trainer.current_epoch % self.every_n_epochs == 0:
            return  # the last validation epoch already wrote this state
        self.write(trainer, pl_module)
