"""How the scale group acts on images and on scale-lifted maps (shared by the scale encoder
and, as the claimed action, by its structure-free twin)."""

from __future__ import annotations

import torch

from structured_ssl.encoders.base import Element
from structured_ssl.groups import Group


class ScaleAction:
    """T_s zooms the image out by scales[s] / scales[0] about its centre; Γ_s moves the scale
    axis down by s and zooms each feature map out by the same factor. The scale axis is not a
    cycle: the last s entries of Γ_s z are undefined, so comparisons use :meth:`comparable`."""

    def __init__(self, group: Group) -> None:
        self.group = group

    def factor(self, g: Element) -> float:
        return self.group.scales[0] / self.group.scales[g[0]]

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        from structured_ssl.augment import rescale

        return rescale(x, self.factor(g))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        from structured_ssl.augment import rescale

        (s,) = g
        shifted = torch.roll(z, shifts=-s, dims=2)
        return rescale(shifted.flatten(1, 2), self.factor(g)).unflatten(1, z.shape[1:3])

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The entries of a lifted map that Γ_g defines: the first S - s scales."""
        return z[:, :, : z.shape[2] - g[0]]
