"""A-SSL's view of a group element: the affine warp a plug-in states, as one object.

Every geometric T_g here is affine (rotation, flip, zoom, shift), so one view is one batched warp
(``ssl/augmentation.py``). A plug-in's
[`view_affine`][structured_ssl.groups.base.GroupPlugin.view_affine] receives the identity
[`ViewAffine`][structured_ssl.groups.views.ViewAffine] and returns it with what its group
changes (``dataclasses.replace``), so a group names only its own parameters.
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
