"""Layers of the paper backbones, on the lifted layout ``(B, C, G, H, W)`` for every group.

One :class:`LiftedConv` for every group, its convolution made by the group's layer kit
(``LayerKit.conv``, ``groups/kit.py``; rotation: SESN filter copies or escnn's group conv;
scale: SESN convs; translation: plain convs), batch norm shared over the group axis (what
escnn's InnerBatchNorm computes) and pointwise ReLU, so one residual block serves all groups.

Exact sizes for rotations: a stride-2 layer with padding ``k // 2`` samples every second
pixel starting at the border. Rotating by 90 degrees maps that sampling grid onto itself only
when the input side is odd (the centre is then a sample). A backbone with ``s`` stride-2
layers therefore needs an odd side at each of them, i.e. ``side = 1 (mod 2^s)``
(:func:`exact_rotation_size`); the last stride-2 layer's output may be any size.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from structured_ssl.groups.kit import LayerKit

RotationConv = Literal["sesn_copies", "escnn"]
ROTATION_CONVS: tuple[str, ...] = ("sesn_copies", "escnn")


def exact_rotation_size(side: int, strides: tuple[int, ...]) -> bool:
    """Whether 90-degree rotations are exact for an input of ``side`` pixels (see module doc)."""
    for s in strides:
        if s == 2 and side % 2 == 0:
            return False
        side = (side - 1) // s + 1  # padding k // 2, odd k
    return True


def nearest_exact_rotation_size(side: int, strides: tuple[int, ...]) -> int:
    """The exact side closest to ``side`` (the larger on a tie: padding beats cropping)."""
    for delta in range(side):
        for candidate in (side + delta, side - delta):
            if candidate >= 1 and exact_rotation_size(candidate, strides):
                return candidate
    return side


class LiftedConv(nn.Module):
    """A group convolution on the lifted layout; ``lifting`` takes plain images ``(B, C, H, W)``."""

    def __init__(
        self,
        kit: LayerKit,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        lifting: bool,
        effective_size: int = 3,
    ) -> None:
        super().__init__()
        self.kit, self.lifting, self.out_channels = kit, lifting, out_channels
        # the group's own conv, stored as ``conv`` (the checkpoints' key)
        self.conv = kit.conv(
            in_channels, out_channels, kernel_size, stride, lifting, effective_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kit.conv_forward(self.conv, x, self.lifting)


def conv_bn_relu(
    kit: LayerKit, cin: int, cout: int, k: int, stride: int, lifting: bool, effective: int = 3
) -> nn.Sequential:
    return nn.Sequential(
        LiftedConv(kit, cin, cout, k, stride, lifting, effective),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block on the lifted layout (3x3 group convs, projection shortcut).

    ``hidden`` is the width between the two convs (default ``cout``): the structure-free
    twins widen only a block's output, as the paper's twins widen only the output layer.
    """

    def __init__(
        self, kit: LayerKit, cin: int, cout: int, stride: int, hidden: int | None = None
    ) -> None:
        super().__init__()
        hidden = hidden or cout
        self.body = nn.Sequential(
            LiftedConv(kit, cin, hidden, 3, stride, False),
            nn.BatchNorm3d(hidden),
            nn.ReLU(inplace=True),
            LiftedConv(kit, hidden, cout, 3, 1, False),
            nn.BatchNorm3d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(
                LiftedConv(kit, cin, cout, 1, stride, False, 1), nn.BatchNorm3d(cout)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))
