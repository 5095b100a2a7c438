"""Structured (homomorphic) SSL: positive pairs are two fiber bundles of ONE forward pass.

For an encoder equivariant to the group, the bundle at ``g1 · g0`` of ``f(x)`` is what
augmentation SSL would read at ``g0`` of ``f(T_g1 x)``: the pair costs one un-augmented
forward pass instead of two augmented ones. Positions are drawn independently per example
and per branch (within the maximum topographic distance), as in the paper; what a position
is (a grid cell, an angle) is the group's (``methods/positions.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from structured_ssl.methods.base import PairBatch, SSLMethod
from structured_ssl.methods.positions import positions_for
from structured_ssl.ssl.draws import StepDraws


class StructuredSSL(SSLMethod):
    """S-SSL / H-SSL: fibers of one lifted map as positive pairs (see :class:`SSLMethod`)."""

    reads_fiber_pairs = True

    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> Any:
        draws = draws if draws is not None else StepDraws.from_global_rng()
        return positions_for(self.group).structured_views(self, x, draws)

    def read_pairs(self, views: Any, encoder: nn.Module) -> PairBatch:
        return positions_for(self.group).structured_pairs(self, views, encoder)
