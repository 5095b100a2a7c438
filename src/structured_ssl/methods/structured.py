"""Structured (homomorphic) SSL: positive pairs are two fiber bundles of ONE forward pass.

For an encoder equivariant to the group, the bundle at ``g1 · g0`` of ``f(x)`` is what
augmentation SSL would read at ``g0`` of ``f(T_g1 x)``: the pair costs one un-augmented
forward pass instead of two augmented ones. Positions are drawn independently per example
and per branch (within the maximum topographic distance), as in the paper; what a position
is (a grid cell, an angle) is the group's (``methods/positions.py``), and the reader sees the
method only through :class:`~structured_ssl.methods.positions.PairView`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from structured_ssl.lifted.pair_batch import PairBatch
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.positions import PairView, positions_for
from structured_ssl.ssl.draws import StepDraws


class StructuredSSL(SSLMethod):
    """S-SSL / H-SSL: fibers of one lifted map as positive pairs (see :class:`SSLMethod`)."""

    reads_fiber_pairs = True

    def pair_view(self) -> PairView:
        """What the pair reader reads: the encoder, the fiber grid, the pair sampling."""
        return PairView(self.encoder, self.grid, self.pair_sampling)

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> Any:
        """Two bundle starts per example (and pair), on ONE un-augmented batch."""
        draws = draws if draws is not None else StepDraws.from_global_rng()
        return positions_for(self.group).structured_views(self.pair_view(), x, draws)

    def read_pairs(self, views: Any, encoder: nn.Module) -> PairBatch:
        """One forward pass; both bundles of each pair read off the same lifted map."""
        return positions_for(self.group).structured_pairs(self.pair_view(), views, encoder)
