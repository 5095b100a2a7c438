"""A small scale-equivariant encoder (SESN layers, ``encoders/scale_conv.py``).

Group action (elements ``(j,)``, j-th scale of ``group.scales``):

* T_j (input): zoom the image out by ``scales[j] / scales[0]`` about its centre, same canvas
  (``scale_conv.downscale``: anti-aliased, bilinear, zero fill).
* Γ_j (output): move the scale axis down by j (``out[:, :, s] = z[:, :, s + j]``) and zoom
  every feature map out by the same factor.

Why this way round: a kernel at scale s applied to an image shrunk by a = s' / s sees what
the kernel at scale s' saw in the original, so f(T_j x)[s] = zoom(f(x)[s + j]) whenever the
scales are geometric (ratio a between index s and s + j for every s). The scale axis is not
a cycle: the top j scales of Γ_j z have no source, and cells outside the zoomed canvas are
the encoder's zero-input response, so :meth:`ScaleEncoder.comparable` keeps only the part
that Γ_j defines. With the paper's (non-geometric) scales, shifts are approximate too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from structured_ssl.encoders.base import Element, LiftedEncoder
from structured_ssl.encoders.scale_action import ScaleAction
from structured_ssl.encoders.scale_conv import (
    ScaleBatchNorm,
    ScaleConv,
    ScaleLift,
    ScaleMaxProjection,
    hermite_basis,
)
from structured_ssl.groups import Group

__all__ = [
    "ScaleBatchNorm",
    "ScaleConv",
    "ScaleEncoder",
    "ScaleLift",
    "ScaleMaxProjection",
    "hermite_basis",
]


class ScaleEncoder(LiftedEncoder):
    """ScaleLift -> BN -> ReLU -> (ScaleConv, stride 2 -> BN -> ReLU) x 2.

    ``(B, C_in, H, W)`` -> ``(B, widths[-1], S, H', W')`` with ``S = len(group.scales)``.
    Padding is ``k // 2`` ("same"), so 21x21 -> 21 -> 11 -> 6, and odd sizes keep the canvas
    centre on a grid point of every layer (what the zoom about the centre needs).

    Args:
        in_channels: image channels.
        group: a ``Group("scale", scales=...)``; its scales are the basis' Gaussian widths in
            pixels of each layer's grid (SESN's convention).
        widths: channels per layer; ``out_channels = widths[-1]``.
        kernel_sizes, effective_sizes: kernel size and Hermite orders per axis, per layer.
        scale_size: how many neighbouring scales each ScaleConv mixes (1: none).
        strides: per layer; the first is the lifting layer's.
    """

    def __init__(self, in_channels: int, group: Group, widths: Sequence[int] = (16, 32, 64),
                 kernel_sizes: Sequence[int] = (7, 5, 5), effective_sizes: Sequence[int] = (5, 3, 3),
                 scale_size: int = 1, strides: Sequence[int] = (1, 2, 2)) -> None:
        super().__init__()
        if group.kind != "scale":
            raise ValueError(f"ScaleEncoder needs group.kind='scale', got {group.kind!r}")
        if not len(widths) == len(kernel_sizes) == len(effective_sizes) == len(strides) >= 1:
            raise ValueError(
                f"widths={list(widths)}, kernel_sizes={list(kernel_sizes)}, effective_sizes="
                f"{list(effective_sizes)} and strides={list(strides)} must have the same length"
            )
        self.group = group
        self.out_channels = int(widths[-1])
        self.scale_size = scale_size
        layers: list[nn.Module] = []
        current = in_channels
        for i, (width, k, e, stride) in enumerate(zip(widths, kernel_sizes, effective_sizes, strides, strict=True)):
            if i == 0:
                conv: nn.Module = ScaleLift(current, int(width), k, e, group.scales, stride=stride, padding=k // 2)
            else:
                conv = ScaleConv(current, int(width), k, e, group.scales, scale_size=scale_size,
                                 stride=stride, padding=k // 2)
            layers += [conv, ScaleBatchNorm(int(width)), nn.ReLU(inplace=True)]
            current = int(width)
        self.net = nn.Sequential(*layers)
        self.num_scale_convs = len(widths) - 1
        self.action = ScaleAction(group)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # ----------------------------------------------------------------- group action
    # T_g and Γ_g are the scale group's (``scale_action.ScaleAction``, shared with the
    # structure-free twin); only what is comparable depends on this encoder's layers.
    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return self.action.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return self.action.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The scales and cells Γ_g defines: the first ``S - j`` scales (fewer by
        ``scale_size - 1`` per ScaleConv, whose top inputs are padding on one side only),
        and the cells inside the zoomed canvas (others are zeroed)."""
        keep = max(0, z.shape[2] - g[0] - (self.scale_size - 1) * self.num_scale_convs)
        return self.action.comparable(z, g)[:, :, :keep]
