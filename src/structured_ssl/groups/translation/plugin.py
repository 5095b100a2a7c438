"""Translations by whole feature-map cells: the fibers are the spatial cells of the last map.

There is no group axis (|G| = 1 on it); the index grid is the last map's ``(H', W')`` and does
not wrap. T_g rolls the image by ``g x total stride`` pixels and Γ_g rolls the map by ``g``
cells ([`ShiftAction`][structured_ssl.groups.translation.layers.ShiftAction], the action of
``TranslationCNN`` and of the paper backbones' translation form).
A-SSL shifts each view by whole pixels, up to ``max_shift_fraction`` of the image.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from torch import nn

from structured_ssl.groups.base import GroupPlugin, ViewAffine
from structured_ssl.groups.kit import ConvShape, LayerOptions, SmallLayout
from structured_ssl.groups.translation.layers import ShiftAction, TranslationCNN
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.plain import padding_mode_of

if TYPE_CHECKING:
    import torch

    from structured_ssl.lifted.base import LiftedEncoder


class Translation(GroupPlugin):
    """Z^2 on the feature grid."""

    kind = "translation"
    has_group_axis: ClassVar[bool] = False
    grid_cyclic: ClassVar[bool] = False
    small_widths: ClassVar[tuple[int, ...]] = (16, 32, 128)

    @property
    def size(self) -> int:
        return 1

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...] | None:
        return None if spatial_side is None else (spatial_side, spatial_side)

    def exact_input_elements(self) -> list[Element]:
        return [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, :, 0]

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> ShiftAction:
        return ShiftAction(cell_pixels)

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        return TranslationCNN(layout.in_channels, self.spec, layout.layers, padding_mode)

    def paper_conv(self, options: LayerOptions, shape: ConvShape) -> nn.Module:
        return nn.Conv2d(
            shape.in_channels,
            shape.out_channels,
            shape.kernel_size,
            stride=shape.stride,
            padding=shape.kernel_size // 2,
            bias=False,
            padding_mode=padding_mode_of(options.padding_mode),
        )

    def paper_conv_forward(
        self, options: LayerOptions, conv: nn.Module, x: torch.Tensor, lifting: bool
    ) -> torch.Tensor:
        plain = x if lifting else x[:, :, 0]
        return conv(plain).unsqueeze(2)

    # ----------------------------------------------------------------- A-SSL views
    def augmentation_grid(self, max_shift: int) -> tuple[tuple[int, ...], bool]:
        """``(i, j)`` is the whole-pixel shift ``(i - M, j - M)``, M = ``max_shift``."""
        side = 2 * max_shift + 1
        return (side, side), False

    def augmentation_distance(self, max_distance: float, pixels_per_cell: int) -> float:
        return max_distance * pixels_per_cell

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        return dataclasses.replace(view, shift=(elements.float() - max_shift).flip(-1))  # (x, y)

    short_name_format: ClassVar[str] = "T"
    distance_format: ClassVar[str] = "views shifted <= {distance:g} feature cells apart"
