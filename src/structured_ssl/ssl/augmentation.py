"""Input augmentations from the group description, batched on the model's device.

A-SSL's two views are ``T_g1 x`` and ``T_g2 x`` where ``(g1, g2)`` are drawn by the SAME
pair sampler that draws S-SSL's fibers (same grid, same maximum topographic distance), so the
two objectives see the same distribution of group elements. Translations are the exception:
each view moves by whole pixels, up to a fraction of the image (the paper's ±20%), and the
distance limit is converted from feature cells to pixels. Every group transform here is
affine (rotation, flip, rescale, translation), so one view is one batched ``warp_affine``
with a per-example matrix (kornia), whatever the group.

Extra augmentations for what the encoder is NOT equivariant to (crops, noise, elastic,
colour) are kornia modules chosen by name; the hybrid objective uses them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import kornia.augmentation as KA
import kornia.geometry.transform as KT
import torch
from torch import nn

from structured_ssl.groups import Group
from structured_ssl.groups.base import ViewAffine
from structured_ssl.ssl.pairs import FiberGrid, PairSampling

EXTRA_AUGMENTATIONS: tuple[str, ...] = ("crop", "noise", "elastic", "color", "blur")


def affine_about_center(size: tuple[int, int], view: ViewAffine) -> torch.Tensor:
    """Per-example 2x3 matrices of ``view``: flip (horizontal), rotate, scale about the centre,
    then shift."""
    h, w = size
    batch = view.angle.shape[0]
    device = view.angle.device
    center = torch.tensor([(w - 1) / 2, (h - 1) / 2]).to(
        device, non_blocking=True
    )  # no stream sync
    theta = torch.deg2rad(view.angle)
    cos, sin = torch.cos(theta) * view.scale, torch.sin(theta) * view.scale
    sign = 1.0 - 2.0 * view.flip.float()  # -1 flips x
    linear = torch.stack(
        [torch.stack([cos * sign, -sin], -1), torch.stack([sin * sign, cos], -1)], -2
    )  # (B, 2, 2): rotation @ scale @ flip
    offset = center - (linear @ center.expand(batch, 2).unsqueeze(-1)).squeeze(-1) + view.shift
    return torch.cat([linear, offset.unsqueeze(-1)], dim=-1)


def warp(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply per-example affine matrices (bilinear, zero fill), keeping the canvas size."""
    return KT.warp_affine(
        x,
        matrices.to(x.dtype),
        dsize=(x.shape[-2], x.shape[-1]),
        mode="bilinear",
        padding_mode="zeros",
    )


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom by ``factor`` about the centre on the same canvas (< 1 shrinks the content)."""
    batch = x.shape[0]
    view = ViewAffine.identity(batch, x.device)
    zoom = dataclasses.replace(view, scale=torch.full((batch,), factor, device=x.device))
    return warp(x, affine_about_center((x.shape[-2], x.shape[-1]), zoom))


class GroupAugmentation(nn.Module):
    """T_g for per-example group elements of ``group``, as one batched affine warp.

    Elements are integer positions on `element_grid`, drawn by the pair sampler:

    * rotation ``(k,)``, dihedral ``(f, k)``, scale ``(s,)``: the group's own index grid (the
      same grid the fibers live on, so A-SSL's views and H-SSL's fibers see the same elements);
    * translation ``(i, j)``: a whole-pixel shift ``(i - M, j - M)`` with
      ``M = floor(max_shift_fraction x image_size)``: up to ±M px per axis, the identity
      included (the paper's A-SSL: up to ±20% of the image).

    Args:
        group: the group description shared with the encoder and the fiber sampler.
        pixels_per_cell: for translation, input pixels per feature-map cell (the encoder's
            total stride): a fiber-grid distance d is d x pixels_per_cell pixels here.
        image_size: the square input's side (translation only).
        max_shift_fraction: translation only, the largest shift of one view as a fraction of
            the image per axis; in [0, 0.5).
    """

    def __init__(
        self,
        group: Group,
        pixels_per_cell: int = 1,
        image_size: int = 1,
        max_shift_fraction: float = 0.2,
    ) -> None:
        super().__init__()
        check_max_shift_fraction(max_shift_fraction)
        self.group = group
        self.pixels_per_cell = int(pixels_per_cell)
        self.max_shift = int(math.floor(max_shift_fraction * image_size + 1e-9))
        shape, cyclic = group.plugin.augmentation_grid(self.max_shift)
        self.element_grid = FiberGrid(shape, cyclic, (1,) * len(shape))

    def element_sampling(self, max_distance: float | None) -> PairSampling:
        """The pair sampling of (g1, g2) for a fiber-grid ``max_distance`` (cells -> pixels)."""
        if max_distance is None:
            return PairSampling(max_distance=None)
        return PairSampling(
            max_distance=self.group.plugin.augmentation_distance(max_distance, self.pixels_per_cell)
        )

    def pixel_shift(self, elements: torch.Tensor) -> torch.Tensor:
        """Translation elements ``(B, 2)`` as (row, col) pixel shifts."""
        return elements.float() - self.max_shift

    def forward(
        self, x: torch.Tensor, elements: torch.Tensor, jitter: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``elements``: ``(B, ndim)`` positions on `element_grid`. ``jitter``: ``(B,)`` in
        [0, 1), the continuous part of a rotation when ``group.continuous_augmentation``."""
        elements = elements.to(
            x.device, non_blocking=True
        )  # CPU draws: copied without a stream sync
        plugin = self.group.plugin
        x = plugin.view_colour(x, elements)  # colour part of T_g (hue), per example
        if not plugin.geometric_views:
            return x
        identity = ViewAffine.identity(x.shape[0], x.device)
        view = plugin.view_affine(elements, jitter, self.max_shift, identity)
        return warp(x, affine_about_center((x.shape[-2], x.shape[-1]), view))


def check_max_shift_fraction(value: float) -> None:
    """One line naming the field when a view could be shifted off the canvas."""
    if not 0.0 <= value < 0.5:
        raise ValueError(
            f"model.max_shift_fraction={value}: an A-SSL view's translation must be in [0, 0.5) of the image "
            "per axis (0.2 = the paper's ±20%)"
        )


def build_extra_augmentations(names: Sequence[str], channels: int, image_size: int) -> nn.Module:
    """Kornia augmentations for what the encoder is not equivariant to, by name.

    Each keeps the canvas size (crops are resized back), so views stay stackable.
    """
    modules: list[nn.Module] = []
    for name in names:
        if name == "crop":
            modules.append(
                KA.RandomResizedCrop(size=(image_size, image_size), scale=(0.6, 1.0), p=1.0)
            )
        elif name == "noise":
            modules.append(KA.RandomGaussianNoise(mean=0.0, std=0.05, p=1.0))
        elif name == "elastic":
            modules.append(KA.RandomElasticTransform(alpha=(0.5, 0.5), sigma=(8.0, 8.0), p=0.5))
        elif name == "blur":
            modules.append(KA.RandomGaussianBlur(kernel_size=(3, 3), sigma=(0.1, 1.0), p=0.5))
        elif name == "color":
            if channels != 3:
                raise ValueError(
                    f"augmentation 'color' needs 3-channel images, the data has {channels}"
                )
            modules.append(KA.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8))
        else:
            raise ValueError(
                f"unknown extra augmentation {name!r}; expected some of {list(EXTRA_AUGMENTATIONS)}"
            )
    return nn.Sequential(*modules)


def degrees_for_distance(group: Group, distance: float) -> float:
    """How far (in degrees) a rotation-grid distance reaches: for plots and docs."""
    return group.plugin.degrees_for_distance(distance)
