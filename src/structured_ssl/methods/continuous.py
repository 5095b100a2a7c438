"""H-SSL and A-SSL on a continuous group (SO(2)): pairs at angles, read by the Fourier series.

The discrete groups read fibers by gathering cells of an index grid (``pairs.read_bundles``);
on SO(2) a fiber position is an angle and reading it evaluates each field's Fourier series
(``encoders/so2.py``). :class:`~structured_ssl.methods.StructuredSSL` and
:class:`~structured_ssl.methods.AugmentationSSL` hand their two hooks to :class:`AnglePositions` when
their group's plug-in declares ``fiber_positions = "angle"`` (``methods/positions.py``
looks :class:`AnglePositions` up by that name); everything else (projector, loss, probe, the draws'
seeding) is shared.

* H-SSL: angles θ1, θ2 drawn per example and per branch (``angle_pairs.py``: uniform, θ2 within
  ``pairs.max_distance`` radians of θ1), two bundles of ONE un-augmented lifted map.
* A-SSL: each view rotated by its own continuous angle (φ1, φ2 drawn by the same rule), both
  read at the same θ0: H-SSL's pair at (θ0 - φ1, θ0 - φ2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from structured_ssl.encoders.so2 import bundles_at, rotate_images
from structured_ssl.methods.base import PairBatch
from structured_ssl.ssl.angle_pairs import TWO_PI, angle_pairs, bundle_offsets
from structured_ssl.ssl.draws import StepDraws


@dataclass
class AngleViews:
    images: torch.Tensor  # (B, C, H, W) un-augmented (H-SSL) or (2B', C, H, W) both views (A-SSL)
    first: torch.Tensor  # (N,) radians: H-SSL's first bundle start, or A-SSL's shared θ0
    second: torch.Tensor  # (N,) radians: H-SSL's second start (A-SSL: θ0 again)
    rotations: tuple[torch.Tensor, torch.Tensor] | None = None  # A-SSL's (φ1, φ2)


def read_angle_bundles(model: Any, lifted: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """Bundles ``(N, |g0| C)`` of ``lifted`` starting at per-row angles (radians)."""
    offsets = bundle_offsets(
        model.pair_sampling.g0_size, float(model.group.plugin.options["bundle_spacing"])
    )
    coefficients = model.encoder.fiber_map(lifted)
    return bundles_at(
        coefficients,
        starts.to(lifted.device, non_blocking=True),
        offsets,
        model.encoder.max_frequency,
    )


class AnglePositions:
    """SO(2): positions are angles (radians); bundles are read by each field's Fourier series."""

    def structured_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> AngleViews:
        n = len(x) * model.pair_sampling.pairs_per_image
        first, second = angle_pairs(model.pair_sampling, draws.uniform(n), draws.uniform(n))
        return AngleViews(x, first, second)

    def structured_pairs(self, model: Any, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        repeats = model.pair_sampling.pairs_per_image
        source = lifted.repeat_interleave(repeats, dim=0) if repeats > 1 else lifted
        return PairBatch(
            first=read_angle_bundles(model, source, views.first),
            second=read_angle_bundles(model, source, views.second),
            invariant=model.encoder.invariant(lifted),
        )

    def augmented_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> AngleViews:
        x = x.repeat_interleave(model.pair_sampling.pairs_per_image, dim=0)
        n = len(x)
        phi1, phi2 = angle_pairs(model.pair_sampling, draws.uniform(n), draws.uniform(n))
        base = draws.uniform(n) * TWO_PI
        views = torch.cat(
            [
                rotate_images(x, phi1.to(x.device, non_blocking=True)),
                rotate_images(x, phi2.to(x.device, non_blocking=True)),
            ]
        )
        with draws.local_rng(x.device):
            views = model.extra(views)
        return AngleViews(views, base, base, (phi1, phi2))

    def augmented_pairs(self, model: Any, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        invariant = model.encoder.invariant(lifted)
        if model.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            first, second = read_angle_bundles(
                model, lifted, torch.cat([views.first, views.second])
            ).chunk(2)
        return PairBatch(
            first=first,
            second=second,
            invariant=invariant[: len(first) : model.pair_sampling.pairs_per_image],
        )
