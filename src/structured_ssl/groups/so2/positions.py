"""H-SSL and A-SSL on SO(2): pairs at angles, read by each field's Fourier series.

The discrete groups read fibers by gathering cells of an index grid
(``methods/positions.py``, :class:`~structured_ssl.methods.positions.GridPositions`); on SO(2)
a fiber position is an angle and reading it evaluates each field's Fourier series
(``layers.bundles_at``). The plug-in declares ``fiber_positions = "angle"`` and the methods
look :class:`AnglePositions` up by that name; everything else (projector, loss, probe, the
draws' seeding) is shared.

* H-SSL: angles θ1, θ2 drawn per example and per branch (``pairs.py``: uniform, θ2 within
  ``pairs.max_distance`` radians of θ1), two bundles of ONE un-augmented lifted map.
* A-SSL: each view rotated by its own continuous angle (φ1, φ2 drawn by the same rule), both
  read at the same θ0: H-SSL's pair at (θ0 - φ1, θ0 - φ2).

A reader receives the method's typed view (:class:`AngleView`: the method's
``positions.PairView`` has these members) and the step's draws (:class:`Draws`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from structured_ssl.groups.so2.layers import bundles_at, rotate_images
from structured_ssl.groups.so2.pairs import TWO_PI, AngleSampling, angle_pairs, bundle_offsets
from structured_ssl.lifted.contract import AngleEncoder, EquivariantEncoder
from structured_ssl.lifted.pair_batch import PairBatch


class Draws(Protocol):
    """The step's random draws a reader uses (``ssl.draws.StepDraws``)."""

    def uniform(self, n: int) -> torch.Tensor: ...

    def local_rng(self, device: torch.device) -> AbstractContextManager[None]: ...


class AngleView(Protocol):
    """What an angle reader reads of its method (``methods.positions.PairView``)."""

    @property
    def encoder(self) -> EquivariantEncoder: ...

    @property
    def sampling(self) -> AngleSampling: ...

    @property
    def extra(self) -> Callable[[torch.Tensor], torch.Tensor]: ...

    @property
    def readout(self) -> str: ...


@dataclass
class AngleViews:
    images: torch.Tensor  # (B, C, H, W) un-augmented (H-SSL) or (2B', C, H, W) both views (A-SSL)
    first: torch.Tensor  # (N,) radians: H-SSL's first bundle start, or A-SSL's shared θ0
    second: torch.Tensor  # (N,) radians: H-SSL's second start (A-SSL: θ0 again)
    rotations: tuple[torch.Tensor, torch.Tensor] | None = None  # A-SSL's (φ1, φ2)


def angle_encoder(view: AngleView) -> AngleEncoder:
    """The view's encoder as one whose fibers sit at angles (one line when it is not)."""
    encoder = view.encoder
    if not isinstance(encoder, AngleEncoder):
        raise TypeError(
            f"encoder {type(encoder).__name__} has no max_frequency: SO(2) pairs are read at "
            "angles by the encoder's Fourier series (structured_ssl.lifted.contract.AngleEncoder)"
        )
    return encoder


def read_angle_bundles(view: AngleView, lifted: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """Bundles ``(N, |g0| C)`` of ``lifted`` starting at per-row angles (radians)."""
    encoder = angle_encoder(view)
    offsets = bundle_offsets(
        view.sampling.g0_size, float(encoder.group.plugin.options["bundle_spacing"])
    )
    coefficients = encoder.fiber_map(lifted)
    return bundles_at(
        coefficients,
        starts.to(lifted.device, non_blocking=True),
        offsets,
        encoder.max_frequency,
    )


class AnglePositions:
    """SO(2): positions are angles (radians); bundles are read by each field's Fourier series."""

    def structured_views(self, view: AngleView, x: torch.Tensor, draws: Draws) -> AngleViews:
        n = len(x) * view.sampling.pairs_per_image
        first, second = angle_pairs(view.sampling, draws.uniform(n), draws.uniform(n))
        return AngleViews(x, first, second)

    def structured_pairs(self, view: AngleView, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        repeats = view.sampling.pairs_per_image
        source = lifted.repeat_interleave(repeats, dim=0) if repeats > 1 else lifted
        return PairBatch(
            first=read_angle_bundles(view, source, views.first),
            second=read_angle_bundles(view, source, views.second),
            invariant=view.encoder.invariant(lifted),
        )

    def augmented_views(self, view: AngleView, x: torch.Tensor, draws: Draws) -> AngleViews:
        x = x.repeat_interleave(view.sampling.pairs_per_image, dim=0)
        n = len(x)
        phi1, phi2 = angle_pairs(view.sampling, draws.uniform(n), draws.uniform(n))
        base = draws.uniform(n) * TWO_PI
        views = torch.cat(
            [
                rotate_images(x, phi1.to(x.device, non_blocking=True)),
                rotate_images(x, phi2.to(x.device, non_blocking=True)),
            ]
        )
        with draws.local_rng(x.device):
            views = view.extra(views)
        return AngleViews(views, base, base, (phi1, phi2))

    def augmented_pairs(self, view: AngleView, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        invariant = view.encoder.invariant(lifted)
        if view.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            first, second = read_angle_bundles(
                view, lifted, torch.cat([views.first, views.second])
            ).chunk(2)
        return PairBatch(
            first=first,
            second=second,
            invariant=invariant[: len(first) : view.sampling.pairs_per_image],
        )
