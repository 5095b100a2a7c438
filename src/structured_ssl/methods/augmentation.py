"""Augmentation SSL (SimCLR-style): positive pairs from two augmented views of each image.

The views are ``T_g1 x`` and ``T_g2 x`` with ``(g1, g2)`` drawn by the same pair sampler that
structured SSL uses, on the same group, so the two objectives differ only in where the pair
comes from. Both views go through the encoder as ONE concatenated batch (escnn expands its
filters once per forward). Readout, as in the paper: both views at the SAME random base
``g0`` per example (``readout="fiber"``), or the classic SimCLR global pool
(``readout="invariant"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

import structured_ssl.methods.continuous as continuous
from structured_ssl.augment import (
    GroupAugmentation,
    build_extra_augmentations,
    check_max_shift_fraction,
)
from structured_ssl.methods.base import PairBatch, SSLMethod
from structured_ssl.pairs import read_bundles
from structured_ssl.randomness import StepDraws


@dataclass
class AugmentedViews:
    images: torch.Tensor  # (2B', C, H, W): both views stacked, B' = B * pairs_per_image
    base: torch.Tensor  # (B', ndim): the shared g0 position per example
    repeats: int  # pairs per image: rows of the first view repeat each image this often
    g1: torch.Tensor | None = None  # (B', ndim) the first view's group element (element grid)
    g2: torch.Tensor | None = None


def group_views(
    augment: GroupAugmentation, x: torch.Tensor, draws: StepDraws, max_distance: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[T_g1 x; T_g2 x]``, g1, g2: (g1, g2) drawn by the pair sampler on the augmentation's
    element grid, within ``max_distance`` (fiber-grid units), plus a rotation jitter when
    continuous."""
    n = len(x)
    g1, g2 = draws.pairs(augment.element_grid, augment.element_sampling(max_distance), n)
    jitter = (draws.uniform(n), draws.uniform(n)) if augment.group.continuous_augmentation else (None, None)
    return torch.cat([augment(x, g1, jitter[0]), augment(x, g2, jitter[1])]), g1, g2


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
        # translation positions are feature-grid cells: one cell is the encoder's total stride
        pixels_per_cell = int(getattr(self.encoder, "stride", 1))
        self.augment = GroupAugmentation(self.group, pixels_per_cell, self.image_size, max_shift_fraction)
        self.extra = build_extra_augmentations(tuple(extra_augmentations), self.in_channels, self.image_size)

    def pair_dim(self) -> int:
        if self.readout == "invariant":
            return self.encoder.invariant_dim
        return super().pair_dim()

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> AugmentedViews:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        if continuous.is_continuous(self.group):  # SO(2): continuous rotations, read at one angle
            return continuous.augmented_views(self, x, draws)
        x = x.repeat_interleave(self.pair_sampling.pairs_per_image, dim=0)
        n = len(x)
        views, g1, g2 = group_views(self.augment, x, draws, self.pair_sampling.max_distance)
        with draws.local_rng(x.device):
            views = self.extra(views)
        return AugmentedViews(views, draws.positions(self.grid, n), self.pair_sampling.pairs_per_image, g1, g2)

    def read_pairs(self, views: AugmentedViews, encoder: nn.Module) -> PairBatch:
        if isinstance(views, continuous.AngleViews):
            return continuous.augmented_pairs(self, views, encoder)
        lifted = encoder(views.images)
        invariant = self.encoder.invariant(lifted)
        if self.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            fibers = self.encoder.fiber_map(lifted)
            base = torch.cat([views.base, views.base])
            first, second = read_bundles(fibers, base, self.grid).chunk(2)
        # the probe reads the first view, one row per original image
        return PairBatch(first=first, second=second, invariant=invariant[: len(first) : views.repeats])
