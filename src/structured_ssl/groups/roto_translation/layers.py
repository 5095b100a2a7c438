"""Translation x rotation: fibers on space x C_N of ONE lifted map (the product group).

An escnn C_N encoder with circular padding, run on a canvas zero-padded to a multiple of its
total stride s (as the translation CNN). Its lifted map ``(B, C, N, H', W')`` is NOT pooled
over space: a fiber is the channel vector at one (orientation, row, column), and the fiber grid
is the product ``N x H' x W'``, cyclic on every axis (the canvas is a torus).

Elements are ``(k, dy, dx)``: rotate by 360 k / N, then shift by (dy, dx) feature cells (s px).

* T_g: pad to the canvas (side S), rotate about the pixel (S/2, S/2), then roll by (s dy, s dx).
  On a torus of even side a quarter turn about (S/2, S/2) is the quarter turn about the origin,
  which maps every stride lattice to itself, so with circular padding the whole network
  commutes with it exactly; rolls by s px move the output by one cell, also exactly.
* Γ_g: the same on the output torus (rotation about cell (H'/2, W'/2), roll by (dy, dx)),
  composed with escnn's permutation of the C_N axis.

Both are pixel permutations for quarter turns (k with 4k % N == 0) and any shift: the exact
elements. Other rotations (45° for C8) are bilinear warps about the same pixel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.groups.kit import SMALL_LAYERS, ConvLayers
from structured_ssl.groups.rotation.layers import SteerableEncoder, regular_stack
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.escnn_compat import enn, gspaces
from structured_ssl.lifted.plain import total_stride
from structured_ssl.lifted.warp import warp_rotation


def centred_canvas(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad an odd square ``(..., w, w)`` to side S, a multiple of ``multiple`` above w, with
    the centre pixel (w-1)/2 landing on (S/2, S/2); an even side or canvas passes as it is
    (the plug-in rejects even image sizes before any model is built)."""
    side = x.shape[-1]
    if side % multiple == 0:
        return x
    canvas = side + (-side) % multiple  # even, so (canvas - side + 1) is even for odd sides
    before = (canvas - side + 1) // 2
    after = canvas - side - before
    return F.pad(x, (before, after, before, after))


def quarter_turns(k: int, order: int) -> int | None:
    """How many quarter turns the rotation index k is, or None when it is not a multiple of 90°."""
    return (4 * k // order) % 4 if (4 * k) % order == 0 else None


def rotate_about_half(x: torch.Tensor, k: int, order: int) -> torch.Tensor:
    """Rotate ``(..., S, S)`` counter-clockwise by 360 k / N about the pixel (S/2, S/2) on the torus.

    Quarter turns: ``torch.rot90`` (about the centre (S-1)/2, escnn's sense) then the roll that
    brings (S/2, S/2) back to itself: an exact permutation. Other angles: a bilinear warp about
    that pixel (zero fill).
    """
    side = x.shape[-1]
    if x.shape[-2] != side or side % 2:
        raise ValueError(
            f"rotate_about_half needs an even square canvas, got {tuple(x.shape[-2:])}"
        )
    q = quarter_turns(k, order)
    if q is not None:
        turned = torch.rot90(x, q, dims=(-2, -1))
        return torch.roll(turned, shifts=_half_pixel_fix(q, side), dims=(-2, -1))
    flat = x.reshape(-1, 1, side, side)
    angle = torch.full((flat.shape[0],), 2 * math.pi * k / order, device=x.device)
    return warp_rotation(flat, angle, (side / 2, side / 2)).reshape(x.shape)


def _half_pixel_fix(q: int, side: int) -> tuple[int, int]:
    """The roll after ``rot90(q)`` that fixes pixel (S/2, S/2): found by moving a delta."""
    probe = torch.zeros(side, side)
    c = side // 2
    probe[c, c] = 1.0
    moved = torch.rot90(probe, q, dims=(0, 1))
    row, col = divmod(int(moved.argmax()), side)
    return (c - row, c - col)


class RotoTranslationAction(LiftedAction):
    """T_g rotates the centred canvas by k about (S/2, S/2) then rolls it by whole cells; Γ_g
    permutes the C_N axis (escnn), rotates the cell torus about its half and rolls by cells. The
    fibers are not pooled: ``(B, C, N, H', W')``, on the product grid."""

    def __init__(self, out_type: enn.FieldType, order: int, stride: int, out_channels: int) -> None:
        self.out_type, self.order, self.stride = out_type, order, stride
        self.out_channels = out_channels

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        """T_g on the canvas: rotate by k about (S/2, S/2), then roll by whole cells."""
        k, dy, dx = (int(v) for v in g)
        turned = rotate_about_half(centred_canvas(x, self.stride), k, self.order)
        return torch.roll(turned, shifts=(dy * self.stride, dx * self.stride), dims=(-2, -1))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_g: permute the C_N axis (escnn), rotate the cell torus about its half, roll by cells."""
        k, dy, dx = (int(v) for v in g)
        element = self.out_type.gspace.fibergroup.element(k % self.order)
        fibers = (
            enn.GeometricTensor(z.flatten(1, 2), self.out_type).transform_fibers(element).tensor
        )
        turned = rotate_about_half(fibers, k, self.order).unflatten(
            1, (self.out_channels, self.order)
        )
        return torch.roll(turned, shifts=(dy, dx), dims=(-2, -1))

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """No pooling: the fibers are (orientation, row, column)."""
        return z


class RotoTranslationEncoder(SteerableEncoder):
    """C_N steerable CNN with circular padding; fibers on (orientation, row, column).

    Args:
        in_channels: image channels.
        group: the group description (``order`` is N).
        layers: regular C_N fields per layer (the last is C, the channels per fiber), kernel
            sizes and strides; padding ``k // 2``, circular.
    """

    def __init__(self, in_channels: int, group, layers: ConvLayers = SMALL_LAYERS) -> None:
        gspace = gspaces.rot2dOnR2(N=int(group.order))
        super().__init__(in_channels, group, gspace, layers)
        self.order = int(group.order)
        self.stride = total_stride(layers.strides)
        self.net = regular_stack(self.in_type, layers, "circular")
        self.out_type = self.net.out_type
        self.action = RotoTranslationAction(
            self.out_type, self.order, self.stride, self.out_channels
        )

    def canvas(self, x: torch.Tensor) -> torch.Tensor:
        """The torus the network sees: zero-padded to a multiple of s, the image's centre pixel
        at (S/2, S/2). Why centred: a rotation of the image about its own centre (A-SSL's kornia
        warp) is then the torus rotation about (S/2, S/2), and whole-cell shifts of centred
        content are rolls, so A-SSL's views are exactly T_g of the canvas."""
        return centred_canvas(x, self.stride)

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(enn.GeometricTensor(self.canvas(x), self.in_type)).tensor
        return y.unflatten(1, (self.out_channels, self.order))

    def fiber_grid_cyclic(self) -> bool:
        return True

    def invariant(self, z: torch.Tensor) -> torch.Tensor:
        return z.amax(dim=2).mean(dim=(-2, -1))

    def export_plain(self) -> nn.Module:
        import copy

        return copy.deepcopy(self.net).eval().export()
