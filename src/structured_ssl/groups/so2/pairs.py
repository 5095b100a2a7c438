"""Where SO(2)'s positive pairs come from: continuous angles, the circle as the index grid.

The counterpart of :mod:`structured_ssl.ssl.pairs` for a continuous group: a position is an angle
in radians, the topographic distance is the arc length ``|θ1 - θ2|`` taken the short way round
(at most π), and a bundle (the base space g0) is ``g0_size`` angles ``θ + j δ`` (δ the bundle
spacing) that move together. The same :class:`~structured_ssl.ssl.pairs.PairSampling` settings
apply, with ``max_distance`` in radians.

* H-SSL draws θ1 uniform on the circle and θ2 uniform among the angles within
  ``max_distance`` of it (independent and uniform when there is no limit), per example and
  per branch, and reads both bundles of ONE un-augmented lifted map.
* A-SSL draws the two views' rotations (φ1, φ2) with the same rule and reads both views at
  the SAME θ0: since rotating by φ moves the fiber at θ to θ + φ, that pair is H-SSL's pair at
  (θ0 - φ1, θ0 - φ2), whose distance |φ1 - φ2| has H-SSL's distribution.

Two continuous draws coincide with probability 0, so ``allow_same_position`` changes nothing here.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch

TWO_PI = 2 * math.pi


class AngleSampling(Protocol):
    """The pair-sampling settings an angle draw reads (``ssl.pairs.PairSampling`` has them)."""

    @property
    def g0_size(self) -> int: ...

    @property
    def max_distance(self) -> float | None: ...

    @property
    def pairs_per_image(self) -> int: ...


def check_angle_sampling(sampling: AngleSampling) -> None:
    """One line naming the field when a radian distance cannot be meant."""
    if sampling.max_distance is not None and sampling.max_distance <= 0:
        raise ValueError(
            f"pairs.max_distance={sampling.max_distance}: on SO(2) it is an angle in radians, "
            f"> 0 (pi = {math.pi:.4f} allows any pair) or null"
        )


def circular_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Arc length between angles, the short way round, in [0, π]."""
    delta = torch.remainder(a - b, TWO_PI)
    return torch.minimum(delta, TWO_PI - delta)


def angle_pairs(
    sampling: AngleSampling, first: torch.Tensor, offset: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Angle pairs from two uniforms on [0, 1) per row (``StepDraws.uniform``: reproducible and
    split by example across ranks): θ1 = 2π u1, θ2 = θ1 + (2 u2 - 1) d, d = min(max_distance, π)."""
    check_angle_sampling(sampling)
    reach = math.pi if sampling.max_distance is None else min(float(sampling.max_distance), math.pi)
    theta1 = first.double() * TWO_PI
    theta2 = torch.remainder(theta1 + (offset.double() * 2 - 1) * reach, TWO_PI)
    return theta1.float(), theta2.float()


def sample_angle_pairs(
    sampling: AngleSampling, n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pairs of angles in [0, 2π), each ``(n,)``: the first uniform, the second uniform
    within ``max_distance`` of it on the circle (any angle when None or >= π)."""
    return angle_pairs(
        sampling, torch.rand(n, generator=generator), torch.rand(n, generator=generator)
    )


def sample_angles(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` angles uniform on [0, 2π) (A-SSL's shared θ0)."""
    return (torch.rand(n, generator=generator, dtype=torch.float64) * TWO_PI).float()


def bundle_offsets(g0_size: int, spacing: float) -> torch.Tensor:
    """The bundle's angles relative to its start, ``(g0_size,)``: 0, δ, 2δ, ..."""
    if g0_size < 1 or g0_size * spacing > TWO_PI + 1e-9:
        raise ValueError(
            f"pairs.g0_size={g0_size} with a bundle spacing of {spacing:.4f} rad does not fit on the circle "
            f"(g0_size x spacing must be at most 2 pi)"
        )
    return torch.arange(g0_size, dtype=torch.float32) * spacing
