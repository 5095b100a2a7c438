"""A-SSL's view of a group element: the affine warp a plug-in states, as one object.

Every geometric T_g here is affine (rotation, flip, zoom, shift), so one view is one batched warp
(``ssl/augmentation.py``). A plug-in's
[`view_affine`][structured_ssl.groups.base.GroupPlugin.view_affine] receives the identity
[`ViewAffine`][structured_ssl.groups.views.ViewAffine] and returns it with what its group
changes (``dataclasses.replace``), so a group names only its own parameters.
[`CellShifts`][structured_ssl.groups.views.CellShifts] is the whole-cell shift grid that the
groups whose fibers keep space (roto-translation, crop) draw their views' shifts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ViewAffine:
    """Per-example parameters of one view's warp: flip (horizontal), rotate, scale about the
    centre, then shift.

    Args:
        angle: ``(B,)`` degrees (negative: escnn's counter-clockwise in kornia's y-down frame).
        scale: ``(B,)`` zoom factors (> 1 zooms in).
        flip: ``(B,)`` 1.0 mirrors the width axis, 0.0 does not.
        shift: ``(B, 2)`` pixels, (x, y).
    """

    angle: torch.Tensor
    scale: torch.Tensor
    flip: torch.Tensor
    shift: torch.Tensor

    @classmethod
    def identity(cls, batch: int, device: torch.device | str | None = None) -> ViewAffine:
        """No rotation, unit scale, no flip, no shift for ``batch`` examples."""
        return cls(
            angle=torch.zeros(batch, device=device),
            scale=torch.ones(batch, device=device),
            flip=torch.zeros(batch, device=device),
            shift=torch.zeros(batch, 2, device=device),
        )


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
