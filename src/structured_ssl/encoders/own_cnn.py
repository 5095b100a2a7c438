"""Any plain torch CNN as a translation encoder: its fibers are the spatial cells.

Every convolutional trunk (a torchvision-style ResNet without its pooling head, a U-Net
encoder, ...) commutes with shifts by multiples of its total stride, up to what happens at
the border. This adapter removes the border: it switches every padded convolution of the
trunk to circular padding and wraps every padded pooling in a circular pad, and zero-pads
the image to a multiple of the total stride (as `TranslationCNN`
does). Then a cyclic shift of the canvas by ``stride`` pixels moves the last map by exactly
one cell, whatever the weights: the translation group's bound holds, and the H-SSL pairs are
the cells of one forward pass.

The trunk is changed in place (its weights are kept); the total stride and the channels per
cell are measured once with one forward pass on zeros.
"""

from __future__ import annotations

import torch
from torch import nn

from structured_ssl.groups import Group
from structured_ssl.groups.translation.layers import ShiftAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.plain import pad_to_multiple

#: the side of the blank image the stride and width are measured on
PROBE_SIDE = 64

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def circular_padding(trunk: nn.Module) -> nn.Module:
    """``trunk`` with circular padding in every padded conv and pooling layer (in place)."""
    for parent in list(trunk.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and any(
                p > 0 for p in child._reversed_padding_repeated_twice
            ):
                child.padding_mode = "circular"
            elif isinstance(child, _POOLS) and child.padding not in (0, (0, 0)):
                padding = child.padding
                pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
                child.padding = 0
                setattr(
                    parent,
                    name,
                    nn.Sequential(nn.CircularPad2d((pad[1], pad[1], pad[0], pad[0])), child),
                )
    return trunk


def first_conv_channels(trunk: nn.Module) -> int:
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            return int(module.in_channels)
    raise ValueError(
        "encoder.trunk has no nn.Conv2d: a translation encoder needs a convolutional trunk"
    )


class CanvasShiftAction(ShiftAction):
    """The translation action on the canvas the trunk sees: T_g pads the image to a multiple of
    the stride, then shifts it cyclically by whole cells, so the shift is exact for any content,
    also near the border (Γ_g and the fibers: the translation group's)."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return super().transform_input(pad_to_multiple(x, self.cell_pixels), g)


class PlainCNNEncoder(LiftedEncoder):
    """A plain CNN trunk ``(B, C_in, H, W) -> (B, C, H', W')`` as a translation encoder.

    Args:
        trunk: the network, WITHOUT a global pooling / classifier head (the fibers are the
            cells of its last map; H-SSL pairs two of them).
        in_channels: image channels (default: the first convolution's input channels).
    """

    def __init__(self, trunk: nn.Module, in_channels: int | None = None) -> None:
        super().__init__()
        self.group = Group(kind="translation")
        self.in_channels = first_conv_channels(trunk) if in_channels is None else int(in_channels)
        self.trunk = circular_padding(trunk)
        was_training = trunk.training
        with torch.no_grad():
            out = trunk.eval()(torch.zeros(1, self.in_channels, PROBE_SIDE, PROBE_SIDE))
        trunk.train(was_training)
        if out.dim() != 4 or out.shape[-1] < 2:
            raise ValueError(
                f"encoder.trunk maps a {PROBE_SIDE}x{PROBE_SIDE} image to shape {tuple(out.shape)}; "
                "a translation encoder needs a map (B, C, H', W') with H', W' >= 2: remove the "
                "global pooling and classifier head"
            )
        if PROBE_SIDE % out.shape[-1]:
            raise ValueError(
                f"encoder.trunk maps {PROBE_SIDE} px to {out.shape[-1]} cells: the total stride must "
                "divide the image side (stride-s layers with padding k // 2)"
            )
        self.out_channels = int(out.shape[1])
        self.stride = PROBE_SIDE // int(out.shape[-1])
        self.action = CanvasShiftAction(self.stride)

    @property
    def cell_pixels(self) -> int:
        """One fiber cell is ``stride`` input pixels (A-SSL shifts its views by whole cells)."""
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(pad_to_multiple(x, self.stride)).unsqueeze(2)
