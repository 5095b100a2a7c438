"""Structured (homomorphic) SSL: positive pairs are two fiber bundles of ONE forward pass.

For an encoder equivariant to the group, the bundle at ``g1 · g0`` of ``f(x)`` is what
augmentation SSL would read at ``g0`` of ``f(T_g1 x)``: the pair costs one un-augmented
forward pass instead of two augmented ones. Positions are drawn independently per example
and per branch (within the maximum topographic distance), as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import structured_ssl.methods.continuous as continuous
from structured_ssl.methods.base import PairBatch, SSLMethod
from structured_ssl.pairs import read_bundles
from structured_ssl.randomness import StepDraws


@dataclass
class FiberViews:
    images: torch.Tensor  # (B, C, H, W), un-augmented
    first: torch.Tensor  # (B * n, ndim) bundle start positions
    second: torch.Tensor


class StructuredSSL(SSLMethod):
    """S-SSL / H-SSL: fibers of one lifted map as positive pairs (see :class:`SSLMethod`)."""

    reads_fiber_pairs = True

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> FiberViews:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        if continuous.is_continuous(self.group):  # SO(2): angles, not grid cells
            return continuous.structured_views(self, x, draws)
        n = len(x) * self.pair_sampling.pairs_per_image
        first, second = draws.pairs(self.grid, self.pair_sampling, n)
        return FiberViews(x, first, second)

    def read_pairs(self, views: FiberViews, encoder: nn.Module) -> PairBatch:
        if isinstance(views, continuous.AngleViews):
            return continuous.structured_pairs(self, views, encoder)
        lifted = encoder(views.images)
        fibers = self.encoder.fiber_map(lifted)
        repeats = self.pair_sampling.pairs_per_image
        if repeats > 1:
            fibers = fibers.repeat_interleave(repeats, dim=0)
        return PairBatch(
            first=read_bundles(fibers, views.first, self.grid),
            second=read_bundles(fibers, views.second, self.grid),
            invariant=self.encoder.invariant(lifted),
        )
