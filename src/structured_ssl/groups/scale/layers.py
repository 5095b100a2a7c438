"""A small scale-equivariant encoder (SESN layers, ``groups/scale/conv.py``).

Group action: ``groups/scale/action.py`` (T_j zooms out by ``scales[j] / scales[0]``; Γ_j
moves scale s to the scale a times larger and zooms maps out; pooled fibers are
area-normalised). What makes a stack of these layers equivariant on the fibers H-SSL reads
(measured with ``structured_ssl.groups.scale.equivariance``; docs/concepts/bounds.md, "Scale equivariance"):

* every scale uses the whole kernel (no per-scale SESN window), Gaussian width 0.75 px per
  unit scale, kernels (9, 7, 7) so the largest scale (1.31 px) fits;
* Hermite orders (3, 2, 2) per axis: order 2 after a stride aliases (0.055-0.11 fiber error
  with (3, 3, 3)), and the paper's 11 orders on the 11x11 lift of ``paper_mnist`` give 0.12-0.22
  (``benchmarks/scale_design_sweep.py``);
* ``scale_size=1``: mixing neighbouring scales is exact only on geometric grids;
* the output is ``net(x) - net(0)``, so that empty canvas (what a zoom-out adds) is zero even
  once batch norm has learned a shift (``scale_action.without_background``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from structured_ssl.groups.scale.action import ScaleAction, without_background
from structured_ssl.groups.scale.conv import ScaleBatchNorm, ScaleConv, ScaleLift
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.hermite import SIGMA_PER_SCALE

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group


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
        envelope: the basis' Gaussian width in pixels per unit scale (SESN: 1.0).
    """

    def __init__(
        self,
        in_channels: int,
        group: Group,
        widths: Sequence[int] = (16, 32, 64),
        kernel_sizes: Sequence[int] = (9, 7, 7),
        effective_sizes: Sequence[int] = (3, 2, 2),
        scale_size: int = 1,
        strides: Sequence[int] = (1, 2, 2),
        envelope: float = SIGMA_PER_SCALE,
    ) -> None:
        super().__init__()
        if (
            group.grid_cyclic or not group.has_group_axis or group.size != len(group.scales)
        ):  # not a scale axis
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
        for i, (width, k, e, stride) in enumerate(
            zip(widths, kernel_sizes, effective_sizes, strides, strict=True)
        ):
            if i == 0:
                conv: nn.Module = ScaleLift(
                    current,
                    int(width),
                    k,
                    e,
                    group.scales,
                    stride=stride,
                    padding=k // 2,
                    envelope=envelope,
                )
            else:
                conv = ScaleConv(
                    current,
                    int(width),
                    k,
                    e,
                    group.scales,
                    scale_size=scale_size,
                    stride=stride,
                    padding=k // 2,
                    envelope=envelope,
                )
            layers += [conv, ScaleBatchNorm(int(width)), nn.ReLU(inplace=True)]
            current = int(width)
        self.net = nn.Sequential(*layers)
        self.num_scale_convs = len(widths) - 1
        # T_g and Γ_g are the scale group's (shared with the structure-free twin); only what is
        # comparable depends on this encoder's layers: with ``scale_size > 1`` not the top
        # scales whose inputs are padding on one side (``reach``)
        self.action = ScaleAction(group, reach=(scale_size - 1) * self.num_scale_convs)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return without_background(self.net, x)  # empty canvas -> 0: see action.py
