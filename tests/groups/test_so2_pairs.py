"""SO(2)'s pair draws: uniform angles, the partner uniform within max_distance radians, and
A-SSL's (θ0 - φ1, θ0 - φ2) distributed as H-SSL's (θ1, θ2)."""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.groups.so2.pairs import (
    angle_pairs,
    bundle_offsets,
    circular_distance,
    sample_angle_pairs,
    sample_angles,
)
from structured_ssl.ssl.draws import StepDraws
from structured_ssl.ssl.pairs import PairSampling

N = 20000
#: Kolmogorov-Smirnov critical value at 1% (c(α) = sqrt(-ln(α / 2) / 2) = 1.63).
KS_1_PERCENT = 1.63


def ks_uniform(samples: torch.Tensor) -> bool:
    """Kolmogorov-Smirnov: are samples on [0, 1] uniform (not rejected at 1%)?"""
    x = torch.sort(samples.double()).values
    n = len(x)
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    distance = torch.maximum(ranks / n - x, x - (ranks - 1) / n).max()
    return float(distance) < KS_1_PERCENT / math.sqrt(n)


def ks_same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two-sample Kolmogorov-Smirnov: same distribution (not rejected at 1%)?"""
    both = torch.sort(torch.cat([a, b]).double()).values
    cdf_a = torch.searchsorted(torch.sort(a.double()).values, both, right=True) / len(a)
    cdf_b = torch.searchsorted(torch.sort(b.double()).values, both, right=True) / len(b)
    return float((cdf_a - cdf_b).abs().max()) < KS_1_PERCENT * math.sqrt(
        (len(a) + len(b)) / (len(a) * len(b))
    )


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("max_distance", [None, 0.3, 1.5])
def test_pairs_are_uniform_and_within_the_distance(max_distance) -> None:
    first, second = sample_angle_pairs(PairSampling(max_distance=max_distance), N, generator(0))
    reach = math.pi if max_distance is None else max_distance
    distance = circular_distance(first, second)
    assert float(distance.max()) <= reach + 1e-5
    for angles in (first, second):  # each end uniform on the circle
        assert ks_uniform(angles / (2 * math.pi))
    # the partner is uniform among the allowed angles: the distance is uniform on [0, reach]
    assert ks_uniform(distance / reach)
    if max_distance is not None:
        assert float(distance.max()) > 0.95 * reach, "the whole allowed range is used"
    assert not ks_uniform(distance / (2 * reach)), "the test can tell"


def test_assl_pairs_are_distributed_like_hssl_pairs() -> None:
    """A-SSL rotates the views by (φ1, φ2) and reads both at θ0: the fibers it compares sit at
    (θ0 - φ1, θ0 - φ2) of the un-rotated map; their distance and positions match H-SSL's draws."""
    sampling = PairSampling(max_distance=0.8)
    theta1, theta2 = sample_angle_pairs(sampling, N, generator(1))
    phi1, phi2 = sample_angle_pairs(sampling, N, generator(2))
    theta0 = sample_angles(N, generator(3))
    a1, a2 = (
        torch.remainder(theta0 - phi1, 2 * math.pi),
        torch.remainder(theta0 - phi2, 2 * math.pi),
    )
    assert ks_same(circular_distance(a1, a2), circular_distance(theta1, theta2))
    assert ks_same(a1, theta1)
    assert not ks_same(circular_distance(a1, a2), circular_distance(theta1, theta2) / 2), (
        "the test can tell"
    )


def test_draws_are_split_by_example_across_ranks() -> None:
    """Two ranks with n examples each draw what one process with 2n draws (StepDraws)."""
    sampling = PairSampling(max_distance=1.0)
    one = StepDraws(7, 3, 0, 1)
    whole = angle_pairs(sampling, one.uniform(8), one.uniform(8))
    parts = []
    for rank in (0, 1):
        draws = StepDraws(7, 3, rank, 2)
        parts.append(angle_pairs(sampling, draws.uniform(4), draws.uniform(4)))
    # the uniforms are drawn for the global batch and sliced: same generator stream
    joined = [torch.cat([parts[0][i], parts[1][i]]) for i in (0, 1)]
    torch.testing.assert_close(joined[0], whole[0])
    torch.testing.assert_close(joined[1], whole[1])


def test_bad_distance_and_bundle_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"pairs\.max_distance=0"):
        sample_angle_pairs(PairSampling(max_distance=0.0), 4)
    with pytest.raises(ValueError, match=r"pairs\.g0_size=9"):
        bundle_offsets(9, math.pi / 4)
    torch.testing.assert_close(bundle_offsets(3, 0.5), torch.tensor([0.0, 0.5, 1.0]))
