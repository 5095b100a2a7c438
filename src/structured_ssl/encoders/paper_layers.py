"""Layers of the paper backbones, on the lifted layout ``(B, C, G, H, W)`` for every group.

One :class:`LiftedConv` per group kind (rotation: SESN filter copies or escnn's group conv;
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

from structured_ssl.groups import Group

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

    def __init__(self, group: Group, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 lifting: bool, effective_size: int = 3, rotation_conv: RotationConv = "sesn_copies",
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        self.group, self.lifting, self.out_channels = group, lifting, out_channels
        self.uses_escnn = group.kind in ("rotation", "dihedral") and rotation_conv == "escnn"
        padding = kernel_size // 2
        if self.uses_escnn:
            from structured_ssl.encoders.escnn_compat import enn
            from structured_ssl.encoders.escnn_init import r2conv
            from structured_ssl.encoders.rotation import make_gspace

            gspace = make_gspace(group)
            in_repr = gspace.trivial_repr if lifting else gspace.regular_repr
            self.in_type = enn.FieldType(gspace, [in_repr] * in_channels)
            out_type = enn.FieldType(gspace, [gspace.regular_repr] * out_channels)
            self.conv = r2conv(self.in_type, out_type, kernel_size, stride=stride, padding=padding, bias=False)
        elif group.kind in ("rotation", "dihedral"):
            from structured_ssl.encoders.rot90_conv import Rot90GroupConv, Rot90Lift

            cls = Rot90Lift if lifting else Rot90GroupConv
            self.conv = cls(group, in_channels, out_channels, kernel_size, effective_size, stride, padding)
        elif group.kind == "scale":
            from structured_ssl.encoders.scale_conv import ScaleConv, ScaleLift

            cls = ScaleLift if lifting else ScaleConv
            self.conv = cls(in_channels, out_channels, kernel_size, min(effective_size, kernel_size), group.scales,
                            stride=stride, padding=padding)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False,
                                  padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.uses_escnn:
            from structured_ssl.encoders.escnn_compat import enn

            flat = x if self.lifting else x.flatten(1, 2)
            return self.conv(enn.GeometricTensor(flat, self.in_type)).tensor.unflatten(1, (self.out_channels, self.group.size))
        if self.group.kind == "translation":
            plain = x if self.lifting else x[:, :, 0]
            return self.conv(plain).unsqueeze(2)
        return self.conv(x)


def conv_bn_relu(group: Group, cin: int, cout: int, k: int, stride: int, lifting: bool, effective: int = 3,
                 **options) -> nn.Sequential:
    return nn.Sequential(LiftedConv(group, cin, cout, k, stride, lifting, effective, **options),
                         nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block on the lifted layout (3x3 group convs, projection shortcut).

    ``hidden`` is the width between the two convs (default ``cout``): the structure-free
    twins widen only a block's output, as the paper's twins widen only the output layer.
    """

    def __init__(self, group: Group, cin: int, cout: int, stride: int, hidden: int | None = None, **options) -> None:
        super().__init__()
        hidden = hidden or cout
        self.body = nn.Sequential(
            LiftedConv(group, cin, hidden, 3, stride, False, **options), nn.BatchNorm3d(hidden), nn.ReLU(inplace=True),
            LiftedConv(group, hidden, cout, 3, 1, False, **options), nn.BatchNorm3d(cout),
        )
        self.shortcut = (
            nn.Identity() if stride == 1 and cin == cout
            else nn.Sequential(LiftedConv(group, cin, cout, 1, stride, False, 1, **options), nn.BatchNorm3d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))
