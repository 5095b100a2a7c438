"""How the scale group acts on images and on scale-lifted maps, shared by the scale encoder
and (as the claimed action) by its structure-free twin, so both are judged by one rule."""

from __future__ import annotations

import torch

from structured_ssl.encoders.base import Element
from structured_ssl.encoders.scale_conv import downscale, footprint_mask, shift_scales
from structured_ssl.groups import Group


class ScaleAction:
    """T_j zooms the image out by ``scales[j] / scales[0]`` about its centre; Γ_j moves the
    scale axis down by j and zooms every feature map out by the same factor. The scale axis is
    not a cycle: the last j scales of Γ_j z have no source, so comparisons use
    :meth:`comparable`."""

    def __init__(self, group: Group) -> None:
        self.group = group

    def zoom_factor(self, g: Element) -> float:
        return self.group.scales[g[0]] / self.group.scales[0]

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return downscale(x, self.zoom_factor(g))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return downscale(shift_scales(z, g[0]), self.zoom_factor(g))

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The first ``S - j`` scales, inside the zoomed canvas."""
        mask = footprint_mask(tuple(z.shape[-2:]), self.zoom_factor(g), z.device).to(z.dtype)
        return z[:, :, : z.shape[2] - g[0]] * mask
