"""Where a method's positive pairs sit on the fiber axis, chosen by the group's contract.

Both objectives draw two positions per example and read a fiber bundle at each; only the
*kind* of position depends on the group, and the plug-in declares it
(:attr:`~structured_ssl.groups.GroupPlugin.fiber_positions`): ``"grid"`` for the discrete
groups (cells of the index grid, read by gathering, :class:`GridPositions`) and ``"angle"``
for SO(2) (radians on the circle, read by the Fourier series, ``methods/continuous.py``).
:func:`positions_for` looks the reader up by that name, so the methods carry no per-group
branch: :class:`~structured_ssl.methods.StructuredSSL` and
:class:`~structured_ssl.methods.AugmentationSSL` hand their two hooks to the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from structured_ssl.methods.base import PairBatch
from structured_ssl.methods.continuous import AnglePositions
from structured_ssl.ssl.augmentation import GroupAugmentation
from structured_ssl.ssl.draws import StepDraws
from structured_ssl.ssl.pairs import read_bundles


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


class PairPositions(Protocol):
    """What a kind of fiber position provides to the two objectives (``model`` is the method)."""

    def structured_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> Any: ...
    def structured_pairs(self, model: Any, views: Any, encoder: nn.Module) -> PairBatch: ...
    def augmented_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> Any: ...
    def augmented_pairs(self, model: Any, views: Any, encoder: nn.Module) -> PairBatch: ...


class GridPositions:
    """Discrete groups: positions are cells of the fiber grid, bundles are gathered cells."""

    def structured_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> FiberViews:
        """H-SSL: two bundle starts per example and branch, on ONE un-augmented batch."""
        n = len(x) * model.pair_sampling.pairs_per_image
        first, second = draws.pairs(model.grid, model.pair_sampling, n)
        return FiberViews(x, first, second)

    def structured_pairs(self, model: Any, views: FiberViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        fibers = model.encoder.fiber_map(lifted)
        repeats = model.pair_sampling.pairs_per_image
        if repeats > 1:
            fibers = fibers.repeat_interleave(repeats, dim=0)
        return PairBatch(
            first=read_bundles(fibers, views.first, model.grid),
            second=read_bundles(fibers, views.second, model.grid),
            invariant=model.encoder.invariant(lifted),
        )

    def augmented_views(self, model: Any, x: torch.Tensor, draws: StepDraws) -> AugmentedViews:
        """A-SSL: ``T_g1 x`` and ``T_g2 x`` and the shared base g0 both are read at."""
        x = x.repeat_interleave(model.pair_sampling.pairs_per_image, dim=0)
        n = len(x)
        views, g1, g2 = group_views(model.augment, x, draws, model.pair_sampling.max_distance)
        with draws.local_rng(x.device):
            views = model.extra(views)
        return AugmentedViews(
            views, draws.positions(model.grid, n), model.pair_sampling.pairs_per_image, g1, g2
        )

    def augmented_pairs(self, model: Any, views: AugmentedViews, encoder: nn.Module) -> PairBatch:
        lifted = encoder(views.images)
        invariant = model.encoder.invariant(lifted)
        if model.readout == "invariant":
            first, second = invariant.chunk(2)
        else:
            fibers = model.encoder.fiber_map(lifted)
            base = torch.cat([views.base, views.base])
            first, second = read_bundles(fibers, base, model.grid).chunk(2)
        # the probe reads the first view, one row per original image
        return PairBatch(
            first=first, second=second, invariant=invariant[: len(first) : views.repeats]
        )


#: ``GroupPlugin.fiber_positions`` -> its reader; a new kind of position registers here.
POSITIONS: dict[str, PairPositions] = {"grid": GridPositions(), "angle": AnglePositions()}


def positions_for(group: Any) -> PairPositions:
    """The reader for ``group``'s declared kind of fiber position (one line when unknown)."""
    name = group.plugin.fiber_positions
    try:
        return POSITIONS[name]
    except KeyError:
        raise ValueError(
            f"group.kind={group.kind!r} declares fiber_positions={name!r}; known kinds: {', '.join(POSITIONS)}"
        ) from None
