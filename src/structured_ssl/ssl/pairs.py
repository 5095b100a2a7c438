"""Where positive pairs come from: bundles of fibers on a group's index grid.

A *fiber map* is ``(B, C, *grid)``: the lifted features pooled over space for group-axis
encoders (grid ``(|G|,)``, or ``(2, N)`` for D_N), or the spatial cells for translation
(grid ``(H', W')``). A *bundle* (the paper's base space ``g0``) is a contiguous patch of
``g0_size`` cells (``g0_size x g0_size`` for translation, ``1 x g0_size`` for D_N); moving it
by a group element g shifts the patch: ``Γ_g z(g0) = z(g^-1 g0)``. On cyclic axes (rotations)
patches wrap around; on the others (scale, space) they stay inside, never padded.

* Structured SSL reads two bundles of ONE un-augmented forward pass, at positions drawn
  independently per example and per branch (within ``max_distance`` of each other).
* Augmentation SSL reads both augmented views at the SAME random position per example.

Everything here is index arithmetic on tensors; no Python loop over the batch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from structured_ssl.groups.base import plugin_class


@dataclass(frozen=True)
class PairSampling:
    """How fibers are paired (the paper's names).

    Args:
        g0_size: |g0|, the bundle's side: k adjacent group elements, or a k x k spatial
            patch for translation. 1 = one fiber (the paper's main setting).
        max_distance: the largest topographic distance (Euclidean on the index grid, cyclic
            where the group is) between the two bundles' positions; None = any. The
            feature-space counterpart of augmentation strength.
        pairs_per_image: independent pairs drawn per image (each is one row of the loss;
            other pairs of the same image then act as negatives for contrastive losses).
        allow_same_position: let the two bundles coincide (the paper's independent draws
            may). False removes distance-0 pairs.
    """

    g0_size: int = 1
    max_distance: float | None = None
    pairs_per_image: int = 1
    allow_same_position: bool = True

    def __post_init__(self) -> None:
        if self.g0_size < 1:
            raise ValueError(f"pairs.g0_size={self.g0_size} must be >= 1")
        if self.pairs_per_image < 1:
            raise ValueError(f"pairs.pairs_per_image={self.pairs_per_image} must be >= 1")
        if self.max_distance is not None and self.max_distance < 0:
            raise ValueError(f"pairs.max_distance={self.max_distance} must be >= 0 or null")


@dataclass(frozen=True)
class FiberGrid:
    """The index grid fibers live on, and the bundle shape that moves over it."""

    shape: tuple[int, ...]
    cyclic: bool
    bundle: tuple[int, ...]

    @staticmethod
    def of(shape: tuple[int, ...], cyclic: bool, g0_size: int, kind: str) -> FiberGrid:
        """The group ``kind``'s bundle shape (k x k in space, 1 x k for D_N within one flip
        half, k else: ``GroupPlugin.bundle_shape``) on ``shape``."""
        grid = FiberGrid(tuple(shape), cyclic, plugin_class(kind).bundle_shape(g0_size, len(shape)))
        grid.validate(kind)
        return grid

    def validate(self, kind: str) -> None:
        for n, k in zip(self.shape, self.bundle, strict=True):
            limit = n - 1 if (self.cyclic and n > 1) else n
            if k > limit:
                raise ValueError(
                    f"pairs.g0_size={max(self.bundle)} is too large for the {kind} index grid "
                    f"{list(self.shape)}: a bundle must be at most {limit} cells on each axis "
                    f"({'|G| - 1 on a cyclic group' if self.cyclic else 'no padding'})"
                )

    @property
    def positions(self) -> torch.Tensor:
        """All valid bundle start positions, ``(P, ndim)`` (patches stay inside on acyclic axes)."""
        ranges = [
            torch.arange(n if self.cyclic else n - k + 1)
            for n, k in zip(self.shape, self.bundle, strict=True)
        ]
        return torch.cartesian_prod(*ranges).reshape(-1, len(self.shape))

    def distances(self) -> torch.Tensor:
        """Topographic distance between every two start positions, ``(P, P)``."""
        pos = self.positions.float()
        delta = (pos[:, None, :] - pos[None, :, :]).abs()
        if self.cyclic:
            sizes = torch.tensor(self.shape, dtype=torch.float32)
            delta = torch.minimum(delta, sizes - delta)
        return delta.pow(2).sum(-1).sqrt()

    def max_distance(self) -> float:
        return float(self.distances().max()) if len(self.positions) > 1 else 0.0


def allowed_pairs(grid: FiberGrid, sampling: PairSampling) -> torch.Tensor:
    """Boolean ``(P, P)``: which (first, second) start positions may form a pair (a copy of a
    table built and checked once per grid and sampling, not at every training step)."""
    return _allowed_pairs(grid, sampling).clone()


@functools.lru_cache(maxsize=256)
def _allowed_pairs(grid: FiberGrid, sampling: PairSampling) -> torch.Tensor:
    dist = grid.distances()
    allowed = torch.ones_like(dist, dtype=torch.bool)
    if sampling.max_distance is not None:
        allowed &= dist <= sampling.max_distance + 1e-6
    if not sampling.allow_same_position:
        allowed &= dist > 0
    if not allowed.any(dim=1).all():
        raise ValueError(
            f"pairs.max_distance={sampling.max_distance} with allow_same_position="
            f"{sampling.allow_same_position} leaves no partner for some fiber on the grid "
            f"{list(grid.shape)}; allow a larger distance (the grid's largest is {grid.max_distance():.2f})"
        )
    return allowed


def sample_position_pairs(
    grid: FiberGrid, sampling: PairSampling, n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` pairs of start positions, each ``(n, ndim)``.

    The first position is uniform over the grid; the second is uniform among the positions
    allowed with it. With no distance limit the two are independent and uniform.
    """
    positions = grid.positions
    allowed = allowed_pairs(grid, sampling).float()
    first = torch.randint(len(positions), (n,), generator=generator)
    second = torch.multinomial(allowed[first], 1, generator=generator).squeeze(1)
    return positions[first], positions[second]


def sample_positions(
    grid: FiberGrid, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``n`` start positions uniformly, ``(n, ndim)`` (A-SSL's shared g0)."""
    positions = grid.positions
    return positions[torch.randint(len(positions), (n,), generator=generator)]


def read_bundles(fibers: torch.Tensor, starts: torch.Tensor, grid: FiberGrid) -> torch.Tensor:
    """Concatenate the fibers of one bundle per row: ``(B, C, *grid)`` -> ``(B, |g0| C)``.

    ``starts`` is ``(B, ndim)`` (long). Fibers are ordered by their offset inside the bundle,
    so two bundles of the same shape line up fiber by fiber.
    """
    batch, channels = fibers.shape[:2]
    if tuple(fibers.shape[2:]) != grid.shape:
        raise ValueError(
            f"fiber map grid {list(fibers.shape[2:])} does not match {list(grid.shape)}"
        )
    offsets = torch.cartesian_prod(*[torch.arange(k) for k in grid.bundle]).reshape(
        -1, len(grid.shape)
    )
    # index arithmetic where the draws live (the CPU), then ONE copy without a stream sync
    here = starts.device
    cells = starts[:, None, :] + offsets[None].to(here, non_blocking=True)  # (B, K, ndim)
    sizes = torch.tensor(grid.shape).to(here, non_blocking=True)
    if grid.cyclic:
        cells = cells % sizes
    strides = torch.tensor([math.prod(grid.shape[i + 1 :]) for i in range(len(grid.shape))]).to(
        here, non_blocking=True
    )
    flat_index = (cells * strides).sum(-1).to(fibers.device, non_blocking=True)  # (B, K)
    flat = fibers.reshape(batch, channels, -1)
    picked = flat.gather(2, flat_index[:, None, :].expand(batch, channels, -1))  # (B, C, K)
    return picked.transpose(1, 2).reshape(batch, -1)
