"""What every online evaluation reads from a run: the data module's sets, frozen eval-mode
embeddings, the encoder (through its contract), the TensorBoard writer, and when an epoch is due.

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
from torch.utils.data import Dataset

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
