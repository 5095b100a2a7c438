"""Where a method's positive pairs sit on the fiber axis, and how they are read.

Both objectives draw two positions per example and read a fiber bundle at each; only the
*kind* of position depends on the group, and the plug-in declares it
(:attr:`~structured_ssl.groups.GroupPlugin.fiber_positions`): ``"grid"`` for the discrete
groups (cells of the index grid, read by gathering, :class:`GridPositions`, here) and
``"angle"`` for SO(2) (radians on the circle, read by the Fourier series,
``groups/so2/positions.py``). :func:`positions_for` looks the reader up by that name.

A reader reads a method through :class:`PairView`, a typed view of exactly what it needs
(the encoder contract, the fiber grid, the pair sampling, A-SSL's augmentations), never
the method itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from structured_ssl.groups import Group
from structured_ssl.groups.so2.positions import AnglePositions
from structured_ssl.lifted.contract import EquivariantEncoder
from structured_ssl.lifted.pair_batch import PairBatch
from structured_ssl.ssl.augmentation import GroupAugmentation
from structured_ssl.ssl.draws import StepDraws
from structured_ssl.ssl.pairs import FiberGrid, PairSampling, read_bundles


def no_augmentation(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass(frozen=True)
class PairView:
    """What a pair reader reads of its method.

    Args:
        encoder: the online encoder (fiber map and invariant read-out; the contract).
        grid: the fiber grid the positions are drawn on (its shape, wrap and bundle).
        sampling: |g0|, maximum topographic distance, pairs per image.
        augment: A-SSL's group transforms T_g (None for H-SSL).
        extra: augmentations outside the group, applied to both views (A-SSL).
        readout: A-SSL reads both views at one fiber g0 ("fiber") or pools ("invariant").
    """

    encoder: EquivariantEncoder
    grid: FiberGrid
    sampling: PairSampling
    augment: GroupAugmentation | None = None
    extra: Callable[[torch.Tensor], torch.Tensor] = no_augmentation
    readout: str = "fiber"


@dataclass
class FiberViews:
    images: torch.Tensor  # (B, C, H, W), un-augmented
    first: torch.Tensor  # (B * n, ndim) bundle start positions
    second: torch.Tensor


@dataclass
class AugmentedViews:
    images: torch.Tensor  # (2B', C, H, W): both views stacked, B' = B * pairs_per_image
    base: torch.Tensor  # (B', ndim): the shared g0 position per example
    repeats: int  # pairs per image: rows of the first view repeat each image this often
    g1: torch.Tensor | None = None  # (B', ndim) the first view's group element (element grid)
    g2: torch.Tensor | None = None


def group_views(
    augment: GroupAugmentation, x: torch.Tensor, draws: StepDraws, max_distance: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[T_g1 x; T_g2 x]``, g1, g2: (g1, g2) drawn by the pair sampler on the augmentation's
    element grid, within ``max_distance`` (fiber-grid units), plus a rotation jitter when
    continuous."""
    n = len(x)
    g1, g2 = draws.pairs(augment.element_grid, augment.element_sampling(max_distance), n)
    jitter = (
        (draws.uniform(n), draws.uniform(n))
        if augment.group.continuous_augmentation
        else (None, None)
    )
    return torch.cat([augment(x, g1, jitter[0]), augment(x, g2, jitter[1])]), g1, g2


def grid_bundles(view: PairView, fibers: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """The bundles ``(N, |g0| C)`` of a fiber map at grid cells ``starts`` (gathered)."""
    return read_bundles(fibers, starts, view.grid)


class PairPositions(Protocol):
    """What a kind of fiber position provides to the two objectives."""

    def structured_views(self, view: PairView, x: torch.Tensor, draws: StepDraws) -> Any: ...
    def structured_pairs(self, view: PairView, views: Any, encoder: nn.Module) -> PairBatch: ...
    def augmented_views(self, view: PairView, x: torch.Tensor, draws: StepDraws) -> Any: ...
    def augmented_pairs(self, view: PairView, views: Any, encoder: nn.Module) -> PairBatch: ...


class GridPositions:
    """Discrete groups: positions are cells of the fiber grid, bundles are gathered cells."""

    def structured_views(self, view: PairView, x: torch.Tensor, draws: StepDraws) -> FiberViews:
        """H-SSL: two bundle starts per example and branch, on ONE un-augmented batch."""
        n = len(x) * view.sampling.pairs_per_image
        first, second = draws.pairs(view.grid, view.sampling, n)
        return FiberViews(x, first, second)

    def structured_pairs(self, view: PairView, views: FiberViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        fibers = view.encoder.fiber_map(lifted)
        repeats = view.sampling.pairs_per_image
        if repeats > 1:
            fibers = fibers.repeat_interleave(repeats, dim=0)
        return PairBatch(
            first=grid_bundles(view, fibers, views.first),
            second=grid_bundles(view, fibers, views.second),
            invariant=view.encoder.invariant(lifted),
        )

    def augmented_views(self, view: PairView, x: torch.Tensor, draws: StepDraws) -> AugmentedViews:
        """A-SSL: ``T_g1 x`` and ``T_g2 x`` and the shared base g0 both are read at."""
        if view.augment is None:
            raise ValueError("A-SSL's views need the group's augmentation (PairView.augment)")
        x = x.repeat_interleave(view.sampling.pairs_per_image, dim=0)
        n = len(x)
        views, g1, g2 = group_views(view.augment, x, draws, view.sampling.max_distance)
        with draws.local_rng(x.device):
            views = view.extra(views)
        return AugmentedViews(
            views, draws.positions(view.grid, n), view.sampling.pairs_per_image, g1, g2
        )

    def augmented_pairs(
        self, view: PairView, views: AugmentedViews, encoder: nn.Module
    ) -> PairBatch:
        lifted = encoder(views.images)
        invariant = view.encoder.invariant(lifted)
        if view.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            fibers = view.encoder.fiber_map(lifted)
            base = torch.cat([views.base, views.base])
            first, second = grid_bundles(view, fibers, base).chunk(2)
        # the probe reads the first view, one row per original image
        return PairBatch(
            first=first, second=second, invariant=invariant[: len(first) : views.repeats]
        )


#: ``GroupPlugin.fiber_positions`` -> its reader; a new kind of position registers here.
POSITIONS: dict[str, PairPositions] = {"grid": GridPositions(), "angle": AnglePositions()}


def positions_for(group: Group) -> PairPositions:
    """The reader for ``group``'s declared kind of fiber position (one line when unknown)."""
    name = group.plugin.fiber_positions
    try:
        return POSITIONS[name]
    except KeyError:
        raise ValueError(
            f"group.kind={group.kind!r} declares fiber_positions={name!r}; known kinds: {', '.join(POSITIONS)}"
        ) from None
