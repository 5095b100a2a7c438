"""The hybrid the paper points to: structure for what the encoder is equivariant to,
input augmentation only for what it is not.

Two views ``A1 x`` and ``A2 x`` are made with augmentations OUTSIDE the group (crops, noise,
elastic, colour: configured by name), and the positive pair is the bundle at ``g1 · g0`` of
the first view's lifted map and the bundle at ``g2 · g0`` of the second's: group
"augmentation" is free (read from the fiber axis), the rest costs a second forward pass.

``augmentation_weight`` > 0 mixes in the plain A-SSL loss too: the views then also get
group transforms ``T_g1``, ``T_g2`` and the A-SSL pair is read at the same g0 of both views,
from the SAME two forward passes; the loss is ``(1 - w) L_structured + w L_augmentation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from structured_ssl.lifted.pair_batch import PairBatch
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.positions import PairView, grid_bundles, group_views
from structured_ssl.ssl.augmentation import (
    GroupAugmentation,
    build_extra_augmentations,
    check_max_shift_fraction,
)
from structured_ssl.ssl.draws import StepDraws


@dataclass
class HybridViews:
    images: torch.Tensor  # (2B, C, H, W): both views
    first: torch.Tensor  # (B, ndim) structured positions in view 1
    second: torch.Tensor  # (B, ndim) structured positions in view 2
    base: torch.Tensor  # (B, ndim) shared g0 for the A-SSL pair


class HybridSSL(SSLMethod):
    """Structured pairs across two views that differ by non-group augmentations.

    It reads fiber pairs (``reads_fiber_pairs``): a group axis is needed.

    Args:
        extra_augmentations: kornia augmentations outside the group, by name.
        augmentation_weight: weight w of the A-SSL loss mixed in (0 = pure hybrid).
        max_shift_fraction: translation only, the A-SSL views' largest shift (see
            :class:`~structured_ssl.methods.AugmentationSSL`).
        **kwargs: see :class:`SSLMethod`.
    """

    reads_fiber_pairs = True

    def __init__(
        self,
        *args,
        extra_augmentations: Sequence[str] = ("crop", "noise"),
        augmentation_weight: float = 0.0,
        max_shift_fraction: float = 0.2,
        **kwargs,
    ) -> None:
        check_max_shift_fraction(max_shift_fraction)  # before anything is built
        super().__init__(*args, **kwargs)
        if not 0.0 <= augmentation_weight <= 1.0:
            raise ValueError(f"model.augmentation_weight={augmentation_weight} must be in [0, 1]")
        if augmentation_weight > 0 and self.target is not None:
            raise ValueError(
                "model.augmentation_weight > 0 is not supported with a target-network loss (BYOL)"
            )
        self.augmentation_weight = augmentation_weight
        self.extra = build_extra_augmentations(
            tuple(extra_augmentations), self.in_channels, self.image_size
        )
        self.augment = GroupAugmentation(
            self.group, self.encoder.cell_pixels, self.image_size, max_shift_fraction
        )

    def pair_view(self) -> PairView:
        """The grid reader's view (the hybrid reads grid cells, like H-SSL)."""
        return PairView(self.encoder, self.grid, self.pair_sampling, self.augment, self.extra)

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> HybridViews:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        n = len(x)
        first, second = draws.pairs(self.grid, self.pair_sampling, n)
        if self.augmentation_weight > 0:
            views, _, _ = group_views(self.augment, x, draws, self.pair_sampling.max_distance)
        else:
            views = torch.cat([x, x])
        base = draws.positions(self.grid, n)
        with draws.local_rng(x.device):
            views = self.extra(views)
        return HybridViews(views, first, second, base)

    def read_pairs(self, views: HybridViews, encoder: nn.Module) -> PairBatch:
        view = self.pair_view()
        lifted = encoder(views.images)
        one, two = view.encoder.fiber_map(lifted).chunk(2)
        batch = PairBatch(
            first=grid_bundles(view, one, views.first),
            second=grid_bundles(view, two, views.second),
            invariant=view.encoder.invariant(lifted)[: len(one)],
        )
        if self.augmentation_weight > 0:
            batch.auxiliary = (
                grid_bundles(view, one, views.base),
                grid_bundles(view, two, views.base),
            )
            batch.auxiliary_weight = self.augmentation_weight
        return batch
