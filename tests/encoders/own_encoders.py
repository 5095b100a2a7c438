"""Encoders a researcher brings: an escnn R2Conv stack and a torchvision-style ResNet trunk.

Importable by class path (``own_encoders.MyEscnnEncoder``) from a config, as a user's own
package would be; the tests put this folder on ``sys.path``.
"""

from __future__ import annotations

import torch
from escnn import gspaces
from escnn import nn as enn
from torch import nn

from structured_ssl.encoders.own_cnn import PlainCNNEncoder
from structured_ssl.encoders.own_escnn import EscnnEncoder


def r2conv_stack(
    order: int = 4, in_channels: int = 1, widths: tuple[int, ...] = (4, 8)
) -> enn.SequentialModule:
    """A user's steerable CNN on C_N: R2Conv -> InnerBatchNorm -> ReLU per layer."""
    gspace = gspaces.rot2dOnR2(N=order)
    current = enn.FieldType(gspace, [gspace.trivial_repr] * in_channels)
    layers: list[enn.EquivariantModule] = []
    for i, width in enumerate(widths):
        out_type = enn.FieldType(gspace, [gspace.regular_repr] * width)
        layers += [
            enn.R2Conv(
                current,
                out_type,
                5 if i == 0 else 3,
                padding=2 if i == 0 else 1,
                stride=1 if i == 0 else 2,
            ),
            enn.InnerBatchNorm(out_type),
            enn.ReLU(out_type, inplace=True),
        ]
        current = out_type
    return enn.SequentialModule(*layers)


class MyEscnnEncoder(EscnnEncoder):
    """What a user writes to name their escnn network in a config (``init_args``: its sizes)."""

    def __init__(
        self, order: int = 4, in_channels: int = 1, widths: tuple[int, ...] = (4, 8)
    ) -> None:
        super().__init__(r2conv_stack(order, in_channels, tuple(widths)))


class BasicBlock(nn.Module):
    """A torchvision-style residual block (two 3x3 convs, projection shortcut when needed)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.down(x))


def resnet_trunk(in_channels: int = 1, width: int = 8) -> nn.Sequential:
    """A ResNet's stem and two stages, without its pooling head: total stride 8."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
        BasicBlock(width, width, 1),
        BasicBlock(width, 2 * width, 2),
    )


class MyResNetEncoder(PlainCNNEncoder):
    """A user's ResNet trunk as a translation encoder, named by class path in a config."""

    def __init__(self, in_channels: int = 1, width: int = 8) -> None:
        super().__init__(resnet_trunk(in_channels, width))
