"""The methods' own samplers, end to end: what ``make_views`` really draws.

Pair positions and group elements are compared against the allowed-pairs table
(:func:`~structured_ssl.ssl.pairs.allowed_pairs`) with a chi-square test at a fixed seed, and the
A-SSL views' group elements are recovered from the IMAGES, not from what the method reports.
A sampler that pairs a fiber with itself, ignores ``max_distance``, or draws the same for
every rank cannot pass these.
"""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.groups import Group
from structured_ssl.methods import AugmentationSSL, HybridSSL, StructuredSSL
from structured_ssl.ssl.draws import StepDraws
from structured_ssl.ssl.pairs import FiberGrid, PairSampling, allowed_pairs


def chi2_quantile(dof: int, z: float = 3.09) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.09: p = 0.999)."""
    a = 2.0 / (9.0 * dof)
    return dof * (1.0 - a + z * math.sqrt(a)) ** 3


def index_of(positions: torch.Tensor, grid: FiberGrid) -> torch.Tensor:
    """Row of each position in ``grid.positions``."""
    table = grid.positions
    match = (positions[:, None, :] == table[None, :, :]).all(-1)
    assert match.any(1).all(), "a drawn position is not a valid start position of the grid"
    return match.float().argmax(1)


def assert_follows_allowed_table(
    first: torch.Tensor, second: torch.Tensor, grid: FiberGrid, sampling: PairSampling
) -> None:
    """(first, second) ~ first uniform, second uniform among the positions allowed with it."""
    allowed = allowed_pairs(grid, sampling).float()
    expected = allowed / allowed.sum(1, keepdim=True) / len(allowed) * len(first)
    counts = torch.zeros_like(allowed)
    counts.index_put_(
        (index_of(first, grid), index_of(second, grid)), torch.ones(len(first)), accumulate=True
    )
    assert counts[allowed == 0].sum() == 0, (
        "pairs drawn that the table forbids (distance limit ignored?)"
    )
    cells = allowed > 0
    statistic = float(((counts - expected)[cells] ** 2 / expected[cells]).sum())
    dof = int(cells.sum()) - 1
    assert statistic < chi2_quantile(dof), (
        f"chi-square {statistic:.0f} over {dof} dof: not the allowed-pairs law"
    )


def batch(n: int, size: int = 21) -> torch.Tensor:
    return torch.zeros(1, 1, size, size).expand(n, 1, size, size)


@pytest.mark.parametrize(
    "group,max_distance,g0_size",
    [
        (Group("rotation", 8), 2.0, 1),
        (Group("rotation", 4), None, 2),
        (Group("translation"), 1.5, 1),
        (Group("scale"), 2.0, 1),
    ],
    ids=["C8-d2", "C4-any-g0=2", "T-d1.5", "S6-d2"],
)
def test_structured_make_views_draws_the_allowed_pairs_distribution(
    group, max_distance, g0_size
) -> None:
    sampling = PairSampling(g0_size=g0_size, max_distance=max_distance)
    model = StructuredSSL(group=group, pairs=sampling)
    views = model.make_views(batch(30000), StepDraws(seed=3, step=0))
    assert_follows_allowed_table(views.first, views.second, model.grid, sampling)
    # independent draws DO coincide sometimes, and do differ mostly: a trivial sampler fails here
    same = (views.first == views.second).all(1).float().mean()
    assert 0.0 < same < 0.5


def test_hybrid_make_views_draws_the_allowed_pairs_distribution() -> None:
    sampling = PairSampling(max_distance=1.0)
    model = HybridSSL(group=Group("rotation", 8), pairs=sampling, extra_augmentations=())
    views = model.make_views(torch.rand(20000, 1, 21, 21), StepDraws(seed=4, step=0))
    assert_follows_allowed_table(views.first, views.second, model.grid, sampling)


def rotation_of_each_view(x: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """k such that a view is x rotated by k quarter turns (exact on the pixel grid)."""
    candidates = torch.stack(
        [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)], 1
    )  # (B, 4, C, H, W)
    errors = (candidates - views[:, None]).flatten(2).abs().amax(-1)
    k = errors.argmin(1)
    assert (errors.gather(1, k[:, None]) < 1e-4).all(), (
        "a view is not an exact quarter-turn of its image"
    )
    return k


def test_augmentation_views_are_rotated_as_the_allowed_pairs_distribution() -> None:
    """The group elements recovered from the A-SSL views' pixels obey max_distance and the table."""
    sampling = PairSampling(max_distance=1.0)
    model = AugmentationSSL(group=Group("rotation", 4), pairs=sampling)
    x = torch.rand(6000, 1, 21, 21, generator=torch.Generator().manual_seed(0))
    views = model.make_views(x, StepDraws(seed=5, step=0))
    one, two = views.images.chunk(2)
    k1, k2 = rotation_of_each_view(x, one), rotation_of_each_view(x, two)
    grid = FiberGrid((4,), True, (1,))
    assert_follows_allowed_table(k1[:, None], k2[:, None], grid, sampling)
    # the recovered rotations are the elements the views report (up to the direction convention)
    assert torch.equal(k1 == 0, views.g1[:, 0] == 0) and torch.equal(k1 == 2, views.g1[:, 0] == 2)


def test_augmentation_translates_by_whole_pixels_up_to_the_fraction_identity_included() -> None:
    model = AugmentationSSL(
        group=Group("translation"), pairs=PairSampling(max_distance=1.0), max_shift_fraction=0.2
    )
    assert model.augment.max_shift == 4  # floor(0.2 x 21)
    views = model.make_views(torch.rand(20000, 1, 21, 21), StepDraws(seed=6, step=0))
    shifts = torch.cat([model.augment.pixel_shift(views.g1), model.augment.pixel_shift(views.g2)])
    assert shifts.abs().max() == 4 and (shifts == 0).all(1).any(), "±4 px reached, identity drawn"
    assert set(shifts.flatten().tolist()) == set(range(-4, 5)), "every whole-pixel shift occurs"
    # max_distance is in feature cells: 1 cell = the encoder's stride (4 px) apart at most
    apart = (model.augment.pixel_shift(views.g1) - model.augment.pixel_shift(views.g2)).norm(dim=1)
    assert apart.max() <= 4.0 + 1e-6 and apart.max() > 3.9
    assert_follows_allowed_table(
        views.g1, views.g2, model.augment.element_grid, model.augment.element_sampling(1.0)
    )
    # the image really moved by that shift (interior of a view vs the shifted original)
    x = torch.zeros(1, 1, 21, 21)
    x[..., 8:13, 8:13] = torch.rand(1, 1, 5, 5)
    g = torch.tensor([[4 + 2, 4 - 3]])  # down 2, left 3
    moved = model.augment(x, g)
    torch.testing.assert_close(
        moved, torch.roll(x, shifts=(2, -3), dims=(-2, -1)), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("fraction", [-0.1, 0.5, 0.7])
def test_impossible_shift_fraction_is_one_line_before_building(fraction: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^model.max_shift_fraction={fraction}: .* \[0, 0.5\)"
    ) as error:
        AugmentationSSL(group=Group("translation"), max_shift_fraction=fraction)
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------- StepDraws
def test_step_draws_are_reproducible_split_by_global_example_and_differ_per_rank_and_step() -> None:
    grid = FiberGrid.of((8,), True, 1, "rotation")
    sampling = PairSampling()
    whole = StepDraws(seed=1, step=7).pairs(grid, sampling, 64)
    again = StepDraws(seed=1, step=7).pairs(grid, sampling, 64)
    assert all(torch.equal(a, b) for a, b in zip(whole, again, strict=True)), (
        "reproducible from (seed, step)"
    )
    ranks = [
        StepDraws(seed=1, step=7, rank=r, world_size=2).pairs(grid, sampling, 32) for r in (0, 1)
    ]
    for i in (0, 1):
        assert torch.equal(torch.cat([ranks[0][i], ranks[1][i]]), whole[i]), (
            "ranks split the global batch"
        )
    assert not torch.equal(ranks[0][0], ranks[1][0]), (
        "example i on rank 0 and rank 1 draw differently"
    )
    other_step = StepDraws(seed=1, step=8).pairs(grid, sampling, 64)
    other_seed = StepDraws(seed=2, step=7).pairs(grid, sampling, 64)
    assert not torch.equal(other_step[0], whole[0]) and not torch.equal(other_seed[0], whole[0])


def test_local_rng_is_seeded_per_rank_and_restores_the_global_state() -> None:
    torch.manual_seed(0)
    before = torch.get_rng_state()
    drawn = {}
    for rank in (0, 1):
        with StepDraws(seed=1, step=3, rank=rank, world_size=2).local_rng(torch.device("cpu")):
            drawn[rank] = torch.rand(4)
    with StepDraws(seed=1, step=3, rank=0, world_size=2).local_rng(torch.device("cpu")):
        assert torch.equal(torch.rand(4), drawn[0])
    assert not torch.equal(drawn[0], drawn[1])
    assert torch.equal(torch.get_rng_state(), before), "the global RNG is untouched"


def test_training_step_draws_from_seed_step_and_rank(monkeypatch) -> None:
    """The module's draws come from (PL_GLOBAL_SEED, step, rank), not from the global RNG."""
    from types import SimpleNamespace

    monkeypatch.setenv("PL_GLOBAL_SEED", "11")
    model = StructuredSSL(group=Group("rotation", 8))
    trainer = SimpleNamespace(accumulate_grad_batches=2, global_step=5, global_rank=1, world_size=2)
    monkeypatch.setattr(type(model), "trainer", property(lambda self: trainer))
    draws = model.step_draws(batch_idx=3)
    assert (draws.seed, draws.step, draws.rank, draws.world_size) == (11, 5 * 2 + 1, 1, 2)
    torch.manual_seed(123)
    a = model.make_views(batch(16), model.step_draws(3))
    torch.manual_seed(456)
    b = model.make_views(batch(16), model.step_draws(3))
    assert torch.equal(a.first, b.first) and torch.equal(a.second, b.second)


@pytest.mark.parametrize(
    "group", [Group("rotation", 4), Group("translation"), Group("scale")], ids=["C4", "T", "S6"]
)
def test_augmentation_reads_both_views_at_one_base_per_example(group: Group) -> None:
    """The same view twice gives the same two bundles: g0 is shared by the views of an example
    (and differs between examples)."""
    model = AugmentationSSL(group=group).eval()
    views = model.make_views(torch.rand(64, 1, 21, 21), StepDraws(seed=8, step=0))
    assert len(torch.unique(views.base, dim=0)) > 1
    one, _ = views.images.chunk(2)
    views.images = torch.cat([one, one])
    with torch.no_grad():
        pairs = model.read_pairs(views, model.encoder)
    torch.testing.assert_close(pairs.first, pairs.second)
