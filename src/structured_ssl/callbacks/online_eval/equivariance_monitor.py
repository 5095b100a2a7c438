"""The encoder's equivariance during training, measured as the ``check`` command does."""

from __future__ import annotations

import random

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from structured_ssl.callbacks.online_eval.shared import ValidationBatchProbe
from structured_ssl.encoders.equivariance import checked_elements, measure
from structured_ssl.lifted.contract import EquivariantEncoder


class EquivarianceMonitor(ValidationBatchProbe):
    """Equivariance of the encoder on validation images, measured as the ``check`` command does.

    Logs ``val/equivariance_error`` (lifted map), ``val/fiber_equivariance_error`` (the fiber
    map H-SSL pairs) and ``val/no_shift_fiber_error`` (the same with no action claimed), from
    [`structured_ssl.encoders.equivariance.measure`][structured_ssl.encoders.equivariance.measure]
    on the first ``max_images`` images of the first ``num_batches`` validation batches and
    ``num_elements`` of the checked elements (all when None), drawn anew each epoch. A bound that
    holds at initialisation says little about the encoder at epoch N, so when a structured encoder
    drifts past its own bound this warns once per epoch with the numbers (``warn=False`` silences
    it).
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

    def probe(
        self, module: L.LightningModule, encoder: EquivariantEncoder, images: Tensor, batch_idx: int
    ) -> None:
        elements = checked_elements(encoder)
        if not elements:
            return
        epoch = module.trainer.current_epoch
        if self.num_elements is not None and self.num_elements < len(elements):
            elements = random.Random(epoch * 1009 + batch_idx).sample(elements, self.num_elements)
        x = images[: self.max_images]
        rows = measure(encoder, x, elements)
        values = {
            "val/equivariance_error": sum(r.lifted for r in rows) / len(rows),
            "val/fiber_equivariance_error": sum(r.fiber for r in rows) / len(rows),
            "val/no_shift_fiber_error": sum(r.baseline for r in rows) / len(rows),
        }
        for name, value in values.items():
            module.log(name, value, on_step=False, on_epoch=True, batch_size=len(x), sync_dist=True)
        bound = encoder.equivariance_bound()
        missed = [r for r in rows if not r.within(bound)]
        if self.warn and missed and bound is not None:
            w = max(missed, key=lambda r: r.fiber)
            rank_zero_warn(
                f"epoch {epoch}: the encoder drifted past its equivariance bound ({bound.describe()}): "
                f"fiber error {w.fiber:.3g} (no-shift {w.baseline:.3g}) at g={w.element}; H-SSL pairs are no longer "
                "related by the group action"
            )
