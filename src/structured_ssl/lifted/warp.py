"""A bilinear image rotation about a given pixel: what SO(2)'s input action and the
roto-translation torus' non-quarter turns warp with (below the groups, which both use it)."""

from __future__ import annotations

import torch


def warp_rotation(
    x: torch.Tensor, angle: torch.Tensor, centre: tuple[float, float]
) -> torch.Tensor:
    """Bilinear rotation (zero fill) of ``(B, C, H, W)`` by per-example radians counter-clockwise
    about the pixel ``centre`` (x, y)."""
    import kornia.geometry.transform as KT

    theta = -angle  # kornia's y-down frame: a negative angle is escnn's counter-clockwise
    cos, sin = torch.cos(theta), torch.sin(theta)
    linear = torch.stack(
        [torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2
    )  # (B, 2, 2)
    c = torch.tensor(centre, device=x.device, dtype=linear.dtype)
    offset = c - (linear @ c)
    matrices = torch.cat([linear, offset.unsqueeze(-1)], dim=-1).to(x.dtype)
    return KT.warp_affine(
        x, matrices, dsize=(x.shape[-2], x.shape[-1]), mode="bilinear", padding_mode="zeros"
    )
