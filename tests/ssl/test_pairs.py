"""Property tests of the fiber sampler: grids, bundles, distances, and reading."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structured_ssl.groups import Group
from structured_ssl.ssl.pairs import (
    FiberGrid,
    PairSampling,
    allowed_pairs,
    read_bundles,
    sample_position_pairs,
    sample_positions,
)


def cyclic_distance(
    a: torch.Tensor, b: torch.Tensor, shape: tuple[int, ...], cyclic: bool
) -> torch.Tensor:
    delta = (a - b).abs().float()
    if cyclic:
        delta = torch.minimum(delta, torch.tensor(shape, dtype=torch.float32) - delta)
    return delta.pow(2).sum(-1).sqrt()


grids = st.one_of(
    st.tuples(st.integers(2, 12), st.just(True), st.just("rotation")).map(
        lambda t: ((t[0],), t[1], t[2])
    ),
    st.tuples(st.integers(2, 8), st.just(False), st.just("scale")).map(
        lambda t: ((t[0],), t[1], t[2])
    ),
    st.tuples(st.integers(2, 7), st.just(False), st.just("translation")).map(
        lambda t: ((t[0], t[0]), t[1], t[2])
    ),
    st.tuples(st.integers(2, 6), st.just(True), st.just("dihedral")).map(
        lambda t: ((2, t[0]), t[1], t[2])
    ),
)


@settings(max_examples=60, deadline=None)
@given(grid=grids, data=st.data())
def test_pairs_respect_distance_bundle_and_bounds(grid, data) -> None:
    shape, cyclic, kind = grid
    longest = max(shape)
    limit = longest - 1 if cyclic else min(shape) if kind == "translation" else longest
    g0 = data.draw(st.integers(1, max(1, limit)))
    fiber_grid = FiberGrid.of(shape, cyclic, g0, kind)
    max_distance = data.draw(st.one_of(st.none(), st.floats(0.0, float(longest))))
    sampling = PairSampling(g0_size=g0, max_distance=max_distance)
    first, second = sample_position_pairs(
        fiber_grid, sampling, 200, torch.Generator().manual_seed(1)
    )
    if max_distance is not None:
        dist = cyclic_distance(first, second, shape, cyclic)
        assert (dist <= max_distance + 1e-5).all()
    # patches stay inside the grid on acyclic axes (no padding)
    for pos in (first, second):
        for axis, (n, k) in enumerate(zip(shape, fiber_grid.bundle, strict=True)):
            assert (pos[:, axis] >= 0).all()
            assert (pos[:, axis] <= (n - 1 if cyclic else n - k)).all()


def test_no_self_pairs_unless_allowed() -> None:
    grid = FiberGrid.of((8,), True, 1, "rotation")
    first, second = sample_position_pairs(grid, PairSampling(allow_same_position=False), 2000)
    assert (first != second).any(dim=1).all()
    first, second = sample_position_pairs(grid, PairSampling(), 2000)
    assert (first == second).all(dim=1).any(), "independent draws coincide sometimes (1/8 here)"


def test_unlimited_draws_are_independent_and_uniform() -> None:
    grid = FiberGrid.of((4,), True, 1, "rotation")
    first, second = sample_position_pairs(
        grid, PairSampling(), 40000, torch.Generator().manual_seed(0)
    )
    joint = torch.zeros(4, 4)
    joint.index_put_((first[:, 0], second[:, 0]), torch.ones(len(first)), accumulate=True)
    joint /= joint.sum()
    assert torch.allclose(joint, torch.full((4, 4), 1 / 16), atol=0.01)


def test_bundle_reads_contiguous_cells_with_wraparound() -> None:
    fibers = torch.arange(8.0).view(1, 1, 8).repeat(2, 3, 1)  # value = group index
    grid = FiberGrid.of((8,), True, 3, "rotation")
    out = read_bundles(fibers, torch.tensor([[6], [1]]), grid)
    assert out.shape == (2, 9)
    assert out.view(2, 3, 3)[0, :, 0].tolist() == [6.0, 7.0, 0.0]
    assert out.view(2, 3, 3)[1, :, 0].tolist() == [1.0, 2.0, 3.0]


def test_translation_bundle_is_a_spatial_window() -> None:
    fibers = torch.arange(36.0).view(1, 1, 6, 6)
    grid = FiberGrid.of((6, 6), False, 2, "translation")
    out = read_bundles(fibers, torch.tensor([[1, 3]]), grid)
    assert out.flatten().tolist() == [9.0, 10.0, 15.0, 16.0]


def test_oversized_bundle_and_impossible_distance_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"g0_size=8.*at most 7"):
        FiberGrid.of((8,), True, 8, "rotation")
    with pytest.raises(ValueError, match=r"g0_size=7.*at most 6"):
        FiberGrid.of((6,), False, 7, "scale")
    grid = FiberGrid.of((8,), True, 1, "rotation")
    with pytest.raises(ValueError, match=r"max_distance=0\.0"):
        allowed_pairs(grid, PairSampling(max_distance=0.0, allow_same_position=False))
    with pytest.raises(ValueError, match=r"g0_size=0"):
        PairSampling(g0_size=0)


def test_shared_base_positions_are_uniform() -> None:
    grid = FiberGrid.of((6,), False, 2, "scale")
    pos = sample_positions(grid, 5000)
    counts = torch.bincount(pos[:, 0], minlength=5).float() / 5000
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.03)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), pairs_per_image=st.integers(1, 3), g0_size=st.integers(1, 3))
def test_augmentation_ssl_reads_both_views_at_the_same_base(
    seed: int, pairs_per_image: int, g0_size: int
) -> None:
    """A-SSL's two branches share g0: with identical views, the two bundles are identical."""
    from structured_ssl.methods import AugmentationSSL

    torch.manual_seed(seed)
    model = AugmentationSSL(
        group=Group("rotation", 4),
        pairs=PairSampling(g0_size=g0_size, pairs_per_image=pairs_per_image),
    ).eval()
    views = model.make_views(torch.rand(5, 1, 21, 21))
    assert views.base.shape[0] == 5 * pairs_per_image
    half = len(views.images) // 2
    views.images = torch.cat([views.images[:half], views.images[:half]])  # the same view twice
    with torch.no_grad():
        pairs = model.read_pairs(views, model.encoder)
    assert pairs.first.shape == (5 * pairs_per_image, g0_size * model.encoder.out_channels)
    torch.testing.assert_close(pairs.first, pairs.second)
