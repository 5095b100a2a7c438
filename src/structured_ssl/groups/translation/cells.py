"""Groups whose fibers keep space: one group axis x translations by whole cells of the last map.

Roto-translation (C_N x cells) and crop (scales x cells) share this layout: the fiber grid is
``(size, H', W')`` and A-SSL draws each view's element on ``(size, 2M + 1, 2M + 1)``, a group
step and a shift by whole cells
([`CellShifts`][structured_ssl.groups.translation.cells.CellShifts]), so both objectives see the
same elements. It lives with the translation group, whose cells these are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from structured_ssl.groups.base import GroupPlugin


@dataclass(frozen=True)
class CellShifts:
    """A-SSL's shifts by whole feature cells of ``cell_pixels`` input pixels: index ``i`` on a
    side of ``2 M + 1`` is a shift of ``i - M`` cells, ``M = max(1, max_shift // cell_pixels)``
    (at least one cell, so the views move even when ``max_shift`` is under a cell)."""

    cell_pixels: int

    def reach(self, max_shift: int) -> int:
        """M: the most cells a view moves per axis."""
        return max(1, max_shift // self.cell_pixels)

    def side(self, max_shift: int) -> int:
        """Positions per axis on the augmentation grid (``2 M + 1``)."""
        return 2 * self.reach(max_shift) + 1

    def pixels(self, index: torch.Tensor, max_shift: int) -> torch.Tensor:
        """``(B, 2)`` (row, col) grid indices -> ``(B, 2)`` (x, y) pixel shifts."""
        cells = index.float() - self.reach(max_shift)  # (row, col)
        return (cells * self.cell_pixels).flip(-1)


class CellProduct(GroupPlugin):
    """A group axis of `size` entries x the spatial cells of the last map; subclasses set
    `shifts` (their encoder's cell size) and `grid_cyclic` (whether both wrap)."""

    shifts: ClassVar[CellShifts]

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...] | None:
        return None if spatial_side is None else (self.size, spatial_side, spatial_side)

    def augmentation_grid(self, max_shift: int) -> tuple[tuple[int, ...], bool]:
        """``(g, i, j)``: group step g, shift by ``(i - M, j - M)`` cells (`CellShifts`)."""
        side = self.shifts.side(max_shift)
        return (self.size, side, side), self.grid_cyclic
