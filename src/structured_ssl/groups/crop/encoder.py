"""The crop encoder: the scale input lift with its spatial cells kept as fibers.

The same lifted map as the scale group's default encoder (``encoders/scale_pyramid.py``: one
plain network on the image zoomed out to each scale, one batched pass), read as a product
grid: a fiber is the channel vector at one (scale, row, column), i.e. the description of one
crop of the image (a window of side ~ receptive field x ``a_s`` around the cell). Pairs of
fibers are pairs of crops; [`CropAction`][structured_ssl.groups.crop.action.CropAction] is how a
crop of the input moves them.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from structured_ssl.groups.crop.action import CropAction
from structured_ssl.groups.scale.pyramid import InputLiftedScaleEncoder


class CropLiftedEncoder(InputLiftedScaleEncoder):
    """``(B, C_in, H, W)`` -> ``(B, C, S, H', W')``, fibers on scale x cells.

    Args:
        net: a plain network (``(B, C_in, H, W)`` -> ``(B, C, H', W')``) of total ``stride``.
        group: the crop group (its ``scales``).
        out_channels: C.
        stride: input pixels per output cell.
    """

    def __init__(self, net: nn.Module, group: Any, out_channels: int, stride: int) -> None:
        super().__init__(net, group, out_channels)
        self.action = CropAction(group, stride)  # its fiber map keeps the cells
