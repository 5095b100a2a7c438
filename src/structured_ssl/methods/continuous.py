"""H-SSL and A-SSL on SO(2): pairs at continuous angles, read by the Fourier series.

The discrete groups read fibers by gathering cells of an index grid (``pairs.read_bundles``);
on SO(2) a fiber position is an angle and reading it evaluates the field's Fourier series
(``encoders/so2.py``). Everything else (projector, loss, probe, optimisation, the draws'
seeding) is the shared :class:`~structured_ssl.methods.base.SSLMethod`.

* :class:`ContinuousStructuredSSL`: angles θ1, θ2 drawn per example and per branch
  (``angle_pairs.py``: uniform, θ2 within ``pairs.max_distance`` radians of θ1), two bundles
  of ONE un-augmented lifted map.
* :class:`ContinuousAugmentationSSL`: each view rotated by its own continuous angle (φ1, φ2
  drawn by the same rule), both read at the same θ0: H-SSL's pair at (θ0 - φ1, θ0 - φ2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from structured_ssl.angle_pairs import TWO_PI, angle_pairs, bundle_offsets, check_angle_sampling
from structured_ssl.encoders.so2 import bundles_at, rotate_images
from structured_ssl.methods.augmentation import AugmentationSSL
from structured_ssl.methods.base import PairBatch
from structured_ssl.methods.structured import StructuredSSL
from structured_ssl.randomness import StepDraws


@dataclass
class AngleViews:
    images: torch.Tensor  # (B, C, H, W) un-augmented (H-SSL) or (2B', C, H, W) both views (A-SSL)
    first: torch.Tensor  # (N,) radians: H-SSL's first bundle start, or A-SSL's shared θ0
    second: torch.Tensor  # (N,) radians: H-SSL's second start (A-SSL: θ0 again)
    rotations: tuple[torch.Tensor, torch.Tensor] | None = None  # A-SSL's (φ1, φ2)


class ContinuousMixin:
    """What both objectives need: the group must be continuous; bundles of angles."""

    def check_continuous(self) -> None:
        if not getattr(self.group.plugin, "continuous", False):
            raise ValueError(
                f"model.group.kind={self.group.kind!r}: {type(self).__name__} reads fibers at continuous angles; "
                "use it with group.kind 'so2' (the discrete groups use StructuredSSL / AugmentationSSL)"
            )
        check_angle_sampling(self.pair_sampling)
        self.offsets = bundle_offsets(self.pair_sampling.g0_size, float(self.group.plugin.options["bundle_spacing"]))

    def read_bundles(self, lifted: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        coefficients = self.encoder.fiber_map(lifted)
        return bundles_at(coefficients, starts.to(lifted.device), self.offsets, self.encoder.max_frequency)


class ContinuousStructuredSSL(ContinuousMixin, StructuredSSL):
    """H-SSL on SO(2) (see the module docstring and :class:`StructuredSSL`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_continuous()

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> AngleViews:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        n = len(x) * self.pair_sampling.pairs_per_image
        first, second = angle_pairs(self.pair_sampling, draws.uniform(n), draws.uniform(n))
        return AngleViews(x, first, second)

    def read_pairs(self, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        repeats = self.pair_sampling.pairs_per_image
        source = lifted.repeat_interleave(repeats, dim=0) if repeats > 1 else lifted
        return PairBatch(
            first=self.read_bundles(source, views.first),
            second=self.read_bundles(source, views.second),
            invariant=self.encoder.invariant(lifted),
        )


class ContinuousAugmentationSSL(ContinuousMixin, AugmentationSSL):
    """A-SSL on SO(2): continuous rotations of each view, both read at one θ0."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_continuous()

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> AngleViews:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        x = x.repeat_interleave(self.pair_sampling.pairs_per_image, dim=0)
        n = len(x)
        phi1, phi2 = angle_pairs(self.pair_sampling, draws.uniform(n), draws.uniform(n))
        base = draws.uniform(n) * TWO_PI
        views = torch.cat([rotate_images(x, phi1.to(x.device)), rotate_images(x, phi2.to(x.device))])
        with draws.local_rng(x.device):
            views = self.extra(views)
        return AngleViews(views, base, base, (phi1, phi2))

    def read_pairs(self, views: AngleViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        invariant = self.encoder.invariant(lifted)
        repeats = self.pair_sampling.pairs_per_image
        if self.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            first, second = self.read_bundles(lifted, torch.cat([views.first, views.second])).chunk(2)
        return PairBatch(first=first, second=second, invariant=invariant[: len(first) : repeats])
