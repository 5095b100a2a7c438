"""Val embeddings, labels and thumbnails in TensorBoard's Projector tab."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from structured_ssl.callbacks.online_eval.shared import (
    datamodule_set,
    extract_embeddings,
    loader_batch_size,
    tensorboard_writer,
)
from structured_ssl.data.sampling import dataset_size


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
        writer, val = tensorboard_writer(trainer), datamodule_set(trainer, "val")
        if writer is None or val is None:
            return
        indices = torch.arange(min(self.max_samples, dataset_size(val)))
        features, labels, images = extract_embeddings(
            pl_module, val, indices, loader_batch_size(trainer)
        )
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
