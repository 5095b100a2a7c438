"""Augmentation SSL (SimCLR-style): positive pairs from two augmented views of each image.

The views are ``T_g1 x`` and ``T_g2 x`` with ``(g1, g2)`` drawn by the same pair sampler that
structured SSL uses, on the same group, so the two objectives differ only in where the pair
comes from (what a position is, a grid cell or an angle, is the group's:
``methods/positions.py``). Both views go through the encoder as ONE concatenated batch
(escnn expands its filters once per forward). Readout, as in the paper: both views at the SAME random base
``g0`` per example (``readout="fiber"``), or the classic SimCLR global pool
(``readout="invariant"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from structured_ssl.lifted.pair_batch import PairBatch
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.positions import PairView, positions_for
from structured_ssl.ssl.augmentation import (
    GroupAugmentation,
    build_extra_augmentations,
    check_max_shift_fraction,
)
from structured_ssl.ssl.draws import StepDraws


class AugmentationSSL(SSLMethod):
    """A-SSL: two augmented views through the encoder (see :class:`SSLMethod`).

    Args:
        readout: "fiber" reads both views at the same random g0 (the paper's A-SSL);
            "invariant" pools the whole lifted map (classic SimCLR).
        max_shift_fraction: translation only: each view moves by whole pixels, at most this
            fraction of the image per axis, the identity included (0.2: the paper's ±20%).
            ``pairs.max_distance`` (in feature cells) limits how far apart the two views are.
        extra_augmentations: kornia augmentations for what the group does not cover
            (crop, noise, elastic, blur, color), applied independently to each view.
        **kwargs: see :class:`SSLMethod`.
    """

    def __init__(
        self,
        *args,
        readout: Literal["fiber", "invariant"] = "fiber",
        extra_augmentations: Sequence[str] = (),
        max_shift_fraction: float = 0.2,
        **kwargs,
    ) -> None:
        check_max_shift_fraction(max_shift_fraction)  # before anything is built
        self.readout = readout
        super().__init__(*args, **kwargs)
        if readout not in ("fiber", "invariant"):
            raise ValueError(f"model.readout={readout!r}; expected 'fiber' or 'invariant'")
        # translation positions are feature-grid cells: one cell is cell_pixels pixels
        self.augment = GroupAugmentation(
            self.group, self.encoder.cell_pixels, self.image_size, max_shift_fraction
        )
        self.extra = build_extra_augmentations(
            tuple(extra_augmentations), self.in_channels, self.image_size
        )

    def pair_dim(self) -> int:
        if self.readout == "invariant":
            return self.encoder.invariant_dim
        return super().pair_dim()

    def pair_view(self) -> PairView:
        """What the pair reader reads: the encoder, the fiber grid, the pair sampling, the
        group's transforms and the other augmentations, and where the pair is read."""
        return PairView(
            self.encoder, self.grid, self.pair_sampling, self.augment, self.extra, self.readout
        )

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> Any:
        """Two views ``T_g1 x``, ``T_g2 x`` per example and the base position both are read at."""
        draws = draws if draws is not None else StepDraws.from_global_rng()
        return positions_for(self.group).augmented_views(self.pair_view(), x, draws)

    def read_pairs(self, views: Any, encoder: nn.Module) -> PairBatch:
        """Both views through the encoder as ONE batch; the pair is read at the same base."""
        return positions_for(self.group).augmented_pairs(self.pair_view(), views, encoder)
