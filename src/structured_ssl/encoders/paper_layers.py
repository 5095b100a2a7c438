"""Layers of the paper backbones, on the lifted layout ``(B, C, G, H, W)`` for every group.

One :class:`LiftedConv` for every group, its convolution made by the group's plug-in
(``GroupPlugin.paper_conv``; rotation: SESN filter copies or escnn's group conv; scale: SESN
convs; translation: plain convs), batch norm shared over the group axis (what
escnn's InnerBatchNorm computes) and pointwise ReLU, so one residual block serves all groups.

Exact sizes for rotations: a stride-2 layer with padding ``k // 2`` samples every second
pixel starting at the border. Rotating by 90 degrees maps that sampling grid onto itself only
when the input side is odd (the centre is then a sample). A backbone with ``s`` stride-2
layers therefore needs an odd side at each of them, i.e. ``side = 1 (mod 2^s)``
(:func:`exact_rotation_size`); the last stride-2 layer's output may be any size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:
    from structured_ssl.groups import Group  # a type only: the groups import the encoders


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
        group: Group,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        lifting: bool,
        effective_size: int = 3,
        rotation_conv: RotationConv = "sesn_copies",
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.group, self.lifting, self.out_channels = group, lifting, out_channels
        # the group's own conv (its plug-in's ``paper_conv``), stored as ``conv`` as before
        self.conv = group.plugin.paper_conv(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            lifting,
            effective_size,
            rotation_conv,
            padding_mode,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.group.plugin.paper_conv_forward(self.conv, x, self.lifting)


def conv_bn_relu(
    group: Group,
    cin: int,
    cout: int,
    k: int,
    stride: int,
    lifting: bool,
    effective: int = 3,
    **options,
) -> nn.Sequential:
    return nn.Sequential(
        LiftedConv(group, cin, cout, k, stride, lifting, effective, **options),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block on the lifted layout (3x3 group convs, projection shortcut).

    ``hidden`` is the width between the two convs (default ``cout``): the structure-free
    twins widen only a block's output, as the paper's twins widen only the output layer.
    """

    def __init__(
        self, group: Group, cin: int, cout: int, stride: int, hidden: int | None = None, **options
    ) -> None:
        super().__init__()
        hidden = hidden or cout
        self.body = nn.Sequential(
            LiftedConv(group, cin, hidden, 3, stride, False, **options),
            nn.BatchNorm3d(hidden),
            nn.ReLU(inplace=True),
            LiftedConv(group, hidden, cout, 3, 1, False, **options),
            nn.BatchNorm3d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(
                LiftedConv(group, cin, cout, 1, stride, False, 1, **options), nn.BatchNorm3d(cout)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))
