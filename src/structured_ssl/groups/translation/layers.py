"""Translations' layers: the plain CNN whose fibers are the spatial cells of its last map, and
the shift action (T_g rolls the image by whole cells, Γ_g rolls the map by cells).

* [`TranslationCNN`][structured_ssl.groups.translation.layers.TranslationCNN] is an ordinary CNN:
  equivariant to shifts by multiples of its total stride (exactly so with circular padding), with
  the spatial cells of its last map as fibers. Lifted layout ``(B, C, 1, H', W')``.
* [`ShiftAction`][structured_ssl.groups.translation.layers.ShiftAction] is its action, and that of
  every encoder whose fibers are spatial cells (the paper backbones' translation form, the MLP twin,
  which claims it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from structured_ssl.groups.kit import ConvLayers
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.plain import conv_stack, pad_to_multiple, total_stride

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group


#: TranslationCNN's default layers (wider than the ``small`` encoder's).
WIDE_LAYERS = ConvLayers(widths=(32, 64, 128))


class ShiftAction(LiftedAction):
    """T_g rolls the image by ``g x cell_pixels`` pixels, Γ_g rolls the map by ``g`` cells; the
    fibers are the spatial cells ``(B, C, H', W')``."""

    def __init__(self, cell_pixels: int) -> None:
        self.cell_pixels = int(cell_pixels)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(x, shifts=(dy * self.cell_pixels, dx * self.cell_pixels), dims=(-2, -1))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(z, shifts=(dy, dx), dims=(-2, -1))

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, :, 0]


class TranslationCNN(LiftedEncoder):
    """Ordinary CNN; its fibers are the spatial cells of the last feature map.

    A shift of the input by ``stride`` pixels (the product of layer strides) moves the
    output by one cell. With ``padding_mode="circular"`` (the default) the input is first
    zero-padded to a multiple of ``stride``, so the shift is exact for content away from the
    border whatever the weights are: training cannot buy accuracy from absolute position.
    With zero padding it holds only away from the border, and training learns to break it.
    """

    def __init__(
        self,
        in_channels: int,
        group: Group,
        layers: ConvLayers = WIDE_LAYERS,
        padding_mode: str = "circular",
    ) -> None:
        super().__init__()
        self.group = group
        self.out_channels = int(layers.widths[-1])
        self.stride = total_stride(layers.strides)
        self.padding_mode = padding_mode
        self.net = conv_stack(
            in_channels, layers.widths, layers.kernel_sizes, layers.strides, padding_mode
        )
        self.action = ShiftAction(self.stride)

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode == "circular":
            x = pad_to_multiple(x, self.stride)
        return self.net(x).unsqueeze(2)
