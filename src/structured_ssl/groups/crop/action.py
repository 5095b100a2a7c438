"""Crop as a group action: T_g crops a window and resizes it to the canvas (a zoom IN about a
shifted centre); Γ_g moves the scale axis and shifts the cells of the scale encoder's lift.

Elements are ``g = (j, dy, dx)``: zoom in by ``a_j = scales[j] / scales[0]`` about the point
``c + t`` (c the canvas centre ``(W - 1) / 2``, ``t = (dy, dx) x stride`` pixels), i.e. the
window of side ``W / a_j`` centred at ``c + t``, resized to ``W x W``: exactly what a
RandomResizedCrop view is, with aspect ratio 1 and discrete areas and positions.

The encoder lifts by zooming the input OUT (``encoders/scale_pyramid.py``): ``f(x)(s) =
F(Zout_{a_s} x)``. Zooming out the crop gives ``Zout_{a_s} T_g x = Shift_u Zout_{a_s / a_j} x``
with ``u = -t a_j / a_s`` pixels (derivation: a point y of the result reads x at
``c + t + (y - c) a_s / a_j``), for content inside the window. So, where ``a_s / a_j`` is a
scale of the grid (s' with ``scales[s'] = scales[s] / a_j``; on a geometric grid ``s' = s - j``),

    f(T_g x)(s) = Shift_{u / stride cells} f(x)(s').

Γ_g is defined on those scales only (the others have no source), and the shift is a whole
number of cells only at ``s = j`` (``u = -t``): at the other scales it is a fraction of a cell.
Read by bilinear interpolation of the 6 x 6 map, a fraction of a cell costs a fiber error of
0.3-0.5 (about half the no-shift error; ``whole_cells_only=False`` measures it), so the action
is DEFINED where the shift is whole cells: all matched scales for a pure zoom, scale j for a
shifted crop. This is the semidirect product scale x
translation (a shift seen at a coarser scale is shorter), not a direct product; what is
compared is the matched scales, away from the ring of cells the shift brings in from outside
([`CropAction.comparable`][structured_ssl.groups.crop.action.CropAction.comparable]). The error left
is interpolation: two resamplings of the input (crop then zoom) against one, and the fractional
shift of the map.
"""

from __future__ import annotations

import math
from typing import Any

import kornia.geometry.transform as KT
import torch
import torch.nn.functional as F

from structured_ssl.groups.scale.action import ScaleAction
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.contract import Element


def crop_matrices(size: int, zoom: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 3)`` maps source -> destination of the crop-and-resize: the window of side
    ``size / zoom`` centred at ``c + shift`` (``shift`` ``(B, 2)`` in px, (x, y)) onto the canvas."""
    centre = (size - 1) / 2
    zero = torch.zeros_like(zoom)
    offset = centre * (1 - zoom[:, None]) - zoom[:, None] * shift  # (B, 2)
    return torch.stack(
        [torch.stack([zoom, zero, offset[:, 0]], -1), torch.stack([zero, zoom, offset[:, 1]], -1)],
        -2,
    )


def crop_resize(x: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Per-example crops resized to the canvas (bilinear, zero fill; kornia, as A-SSL's warps)."""
    matrices = crop_matrices(x.shape[-1], zoom.to(x.dtype), shift.to(x.dtype))
    return KT.warp_affine(
        x, matrices, dsize=(x.shape[-2], x.shape[-1]), mode="bilinear", padding_mode="zeros"
    )


def translate_maps(z: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """``out(y) = z(y - d)`` on ``(B, C, H, W)`` for a shift d in cells: a roll for whole cells
    (the network pads circularly on a canvas of whole cells, so a shift of content away from
    the border is a roll of its map whatever the weights), bilinear with zero fill otherwise."""
    if dy == 0 and dx == 0:
        return z
    if float(dy).is_integer() and float(dx).is_integer():  # whole cells: the torus's roll
        return torch.roll(z, shifts=(int(dy), int(dx)), dims=(-2, -1))
    h, w = z.shape[-2:]
    theta = torch.tensor([[1.0, 0.0, -2 * dx / w], [0.0, 1.0, -2 * dy / h]], dtype=z.dtype)
    grid = F.affine_grid(
        theta.to(z.device).expand(len(z), 2, 3), list(z.shape), align_corners=False
    )
    return F.grid_sample(z, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class CropAction(LiftedAction):
    """T_g, Γ_g and the comparable part for crops ``(j, dy, dx)`` (module docstring).

    Args:
        group: the group description (its ``scales``).
        stride: input pixels per cell of the lifted map (the network's total stride).
    """

    def __init__(self, group: Any, stride: int, whole_cells_only: bool = True) -> None:
        self.group, self.stride = group, int(stride)
        self.whole_cells_only = whole_cells_only
        self.scale = ScaleAction(group, maps_zoom=False)  # the scale matching, zoom-out sense

    def zoom(self, j: int) -> float:
        return self.group.scales[j] / self.group.scales[0]

    def ratio(self, j: int, target: int) -> float:
        """``a_j / a_s``: how much of the input shift the map at scale ``target`` moves."""
        return self.zoom(j) / self.zoom(target)

    def scale_pairs(self, g: Element) -> list[tuple[int, int]]:
        """``(s', s)``: Γ_g puts scale s' of a map at scale s (``scales[s] = a_j scales[s']``);
        with ``whole_cells_only`` only where the shift is a whole number of cells there (for a
        shifted crop: s = j, where it is exact; fractional shifts interpolate, measured apart)."""
        j, dy, dx = (int(v) for v in g)
        pairs = self.scale.scale_map((j,))
        if not self.whole_cells_only:
            return pairs
        return [
            (s, t)
            for s, t in pairs
            if all(abs(v * self.ratio(j, t) - round(v * self.ratio(j, t))) < 1e-6 for v in (dy, dx))
        ]

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        j, dy, dx = (int(v) for v in g)
        batch = len(x)
        zoom = torch.full((batch,), self.zoom(j), device=x.device)
        shift = torch.tensor([[dx, dy]], dtype=torch.float32, device=x.device) * self.stride
        return crop_resize(x, zoom, shift.expand(batch, 2))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        j, dy, dx = (int(v) for v in g)
        out = torch.zeros_like(z)
        for source, target in self.scale_pairs(g):
            ratio = self.ratio(j, target)
            out[:, :, target] = translate_maps(z[:, :, source], -dy * ratio, -dx * ratio)
        return out

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z  # no pooling: fibers are (scale, row, column)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The matched scales, without the ring of cells a shift of ``t`` brings in."""
        j, dy, dx = (int(v) for v in g)
        targets = [t for _, t in self.scale_pairs(g)]
        ring = math.ceil(max(abs(dy), abs(dx)))
        part = z[:, :, targets]
        if ring == 0:
            return part
        mask = torch.zeros(z.shape[-2:], dtype=z.dtype, device=z.device)
        mask[ring:-ring, ring:-ring] = 1
        return part * mask
