"""What every online evaluation reads from a run: the data module's sets, frozen eval-mode
embeddings, the encoder (through its contract), the TensorBoard writer, when an epoch is due, and
which validation batches a per-batch measurement reads
([`ValidationBatchProbe`][structured_ssl.callbacks.online_eval.shared.ValidationBatchProbe]).

Shared by the callbacks of this package and by
[`LinearCurve`][structured_ssl.callbacks.linear_curve.LinearCurve] and
[`FiberSimilarityFigure`][structured_ssl.callbacks.fiber_monitor.FiberSimilarityFigure], so that
each reads a run the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import Dataset

from structured_ssl.data.sampling import dataset_size
from structured_ssl.lifted.contract import EquivariantEncoder
from structured_ssl.lifted.modes import eval_mode


def datamodule_set(trainer: L.Trainer, name: str) -> Dataset | None:
    """``datamodule.dataset(name)``, or None when the data module has no such set."""
    datamodule = getattr(trainer, "datamodule", None)
    getter = getattr(datamodule, "dataset", None)
    if getter is None:
        return None
    try:
        return getter(name)
    except KeyError:
        return None


def subset_indices(size: int, limit: int | None, seed: int) -> torch.Tensor:
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


def train_and_val_embeddings(
    trainer: L.Trainer, module: L.LightningModule, max_train: int | None, seed: int
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]] | None:
    """``((x, y), (val_x, val_y))``: the embeddings of a seeded subset of ``max_train``
    training images (the same every epoch) and of the whole validation set, read in the data
    module's batch size: what a validation-end probe fits and scores (None when the data
    module has no train or val set)."""
    train, val = datamodule_set(trainer, "train"), datamodule_set(trainer, "val")
    if train is None or val is None:
        return None
    batch = loader_batch_size(trainer)
    x, y, _ = extract_embeddings(
        module, train, subset_indices(dataset_size(train), max_train, seed), batch
    )
    val_x, val_y, _ = extract_embeddings(module, val, torch.arange(dataset_size(val)), batch)
    return (x, y), (val_x, val_y)


def _items(dataset: Dataset, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch items by index: one fancy-indexing call for TensorDatasets, else item by item."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        return tensors[0][index], tensors[1][index]
    pairs = [dataset[int(i)] for i in index]
    return torch.stack([p[0] for p in pairs]), torch.as_tensor([int(p[1]) for p in pairs])


def lifted_encoder(module: L.LightningModule) -> EquivariantEncoder | None:
    """The model's encoder when it satisfies the encoder contract (None otherwise)."""
    encoder = getattr(module, "encoder", None)
    return encoder if isinstance(encoder, EquivariantEncoder) else None


def tensorboard_writer(trainer: L.Trainer) -> Any | None:
    """The SummaryWriter of the first logger that is a TensorBoard one (None otherwise)."""
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_embedding"):
            return experiment
    return None


def epoch_due(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """Every n-th epoch, and always on the last one (so short runs still log a final value)."""
    epoch, last = trainer.current_epoch + 1, trainer.max_epochs
    return epoch % every_n_epochs == 0 or (last is not None and last > 0 and epoch >= last)


def loader_batch_size(trainer: L.Trainer, default: int = 256) -> int:
    """The data module's batch size (``default`` when it has none)."""
    return int(getattr(getattr(trainer, "datamodule", None), "batch_size", default) or default)


def class_count(module: L.LightningModule, labels: torch.Tensor) -> int:
    """The model's ``num_classes``, else the largest label + 1."""
    known = getattr(module, "num_classes", None)
    return int(known) if known else int(labels.max()) + 1


class ValidationBatchProbe(L.Callback):
    """A measurement of the lifted encoder on the first ``num_batches`` batches of the first
    validation loader (never during the sanity check, and only on epochs that
    [`due`][structured_ssl.callbacks.online_eval.shared.ValidationBatchProbe.due] accepts): the
    batch filter and encoder look-up its subclasses share, so each one writes only
    [`probe`][structured_ssl.callbacks.online_eval.shared.ValidationBatchProbe.probe]. A model
    whose encoder does not satisfy the contract is skipped."""

    num_batches: int = 1

    def due(self, trainer: L.Trainer) -> bool:
        """Whether this validation epoch is measured (every one unless a subclass says)."""
        return True

    def probe(
        self, module: L.LightningModule, encoder: EquivariantEncoder, images: Tensor, batch_idx: int
    ) -> None:
        """Measure ``encoder`` on one batch's ``images`` and log or draw the result
        (``module.trainer`` is the run's trainer)."""
        raise NotImplementedError

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
        if not self.due(trainer):
            return
        encoder = lifted_encoder(pl_module)
        if encoder is not None:
            self.probe(pl_module, encoder, batch[0], batch_idx)
