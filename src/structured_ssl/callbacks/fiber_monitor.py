"""The fiber-similarity heat map as a Lightning callback: drawn on the first validation batch
every few epochs into TensorBoard's Images tab (the figure itself:
[`fiber_figure`][structured_ssl.callbacks.fiber_figure])."""

from __future__ import annotations

import lightning as L
from torch import Tensor

from structured_ssl.callbacks.fiber_figure import fiber_similarity, similarity_figure
from structured_ssl.callbacks.online_eval.shared import (
    ValidationBatchProbe,
    epoch_due,
    tensorboard_writer,
)
from structured_ssl.lifted.contract import EquivariantEncoder


class FiberSimilarityFigure(ValidationBatchProbe):
    """A heat map of the centred
    [`fiber_similarity`][structured_ssl.callbacks.fiber_figure.fiber_similarity] on the first
    validation batch, and its mean against topographic distance (``add_figure``; see
    [`structured_ssl.callbacks.fiber_figure`][structured_ssl.callbacks.fiber_figure]).

    The colour scale adapts to the off-diagonal values (symmetric around 0), so a small but
    real structure is visible. Measured on the default C8 digits run (docs/guides/evaluation.md): training makes
    distance-1 fibers more alike relative to the rest (centred -0.23 at init, -0.05 after 30
    epochs); on the translation CNN neighbouring cells are alike already at init (shared
    receptive fields). The structure-free twin's fibers are arbitrary channel chunks.
    """

    def __init__(
        self, every_n_epochs: int = 5, max_images: int = 64, tag: str = "val/fiber_similarity"
    ) -> None:
        """Draw every ``every_n_epochs`` epochs (and at the last) from ``max_images`` images."""
        self.every_n_epochs = max(1, every_n_epochs)
        self.max_images = max_images
        self.tag = tag

    def due(self, trainer: L.Trainer) -> bool:
        """Every ``every_n_epochs`` epochs (and at the last), on rank zero only."""
        return trainer.is_global_zero and epoch_due(trainer, self.every_n_epochs)

    def probe(
        self, module: L.LightningModule, encoder: EquivariantEncoder, images: Tensor, batch_idx: int
    ) -> None:
        writer = tensorboard_writer(module.trainer)
        if writer is None:
            return
        matrix = fiber_similarity(encoder, images[: self.max_images]).cpu()
        writer.add_figure(
            self.tag,
            similarity_figure(matrix, encoder, images[:1]),
            global_step=module.trainer.global_step,
            close=True,
        )
