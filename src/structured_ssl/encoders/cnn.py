"""The structure-free twins: plain networks with a FAKE group axis or fake spatial fibers.

* :class:`UnstructuredCNN` has the depth of the structured ``small`` encoder but splits its
  output channels into |G| fake fibers ``(B, C, |G|, H', W')``: the ablation where nothing
  moves the group axis.
* :class:`UnstructuredMLP` flattens the image, so even its "spatial" fibers are fake (the
  paper's Table 2 translation twin).

A twin is handed the action of the encoder it stands in for (``action``, the declared member
of :class:`~structured_ssl.lifted.base.LiftedEncoder`) and claims it (``structured = False``),
so that the equivariance check can show the claim is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import GroupAction
from structured_ssl.lifted.plain import conv_stack

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group


class UnstructuredCNN(LiftedEncoder):
    """A plain CNN whose ``C * |G|`` output channels are read as |G| fake fibers.

    It claims ``action``, the group action of the structured encoder it stands in for (a
    cyclic shift of the group axis for rotations, a shift for scales).
    """

    structured = False

    def __init__(
        self,
        in_channels: int,
        group: Group,
        action: GroupAction,
        out_channels: int = 32,
        widths: Sequence[int] = (8, 16),
        kernel_sizes: Sequence[int] = (5, 3, 3),
        strides: Sequence[int] = (1, 2, 2),
    ) -> None:
        super().__init__()
        if not group.has_group_axis:
            raise ValueError(
                "UnstructuredCNN needs a group with a group axis (rotation, dihedral, scale); "
                f"got group.kind={group.kind!r} (use UnstructuredMLP for translation)"
            )
        self.group = group
        self.out_channels = out_channels
        self.net = conv_stack(
            in_channels, [*widths, out_channels * group.size], kernel_sizes, strides
        )
        self.action = action

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).unflatten(1, (self.out_channels, self.group.size))


def mlp_cell_pixels(image_size: int, grid: int) -> int:
    """Pixels per fake cell of an :class:`UnstructuredMLP` (what its claimed shift moves by)."""
    return max(1, image_size // grid)


class UnstructuredMLP(LiftedEncoder):
    """An MLP whose output is reshaped into a fake spatial grid of fibers ``(B, C, 1, h, w)``;
    it claims ``action``, a shift by whole cells of :func:`mlp_cell_pixels` pixels."""

    structured = False

    def __init__(
        self,
        in_channels: int,
        group: Group,
        image_size: int,
        action: GroupAction,
        out_channels: int = 32,
        grid: int = 6,
        hidden: Sequence[int] = (256,),
    ) -> None:
        super().__init__()
        self.group = group
        self.out_channels = out_channels
        self.grid = grid
        self.stride = mlp_cell_pixels(image_size, grid)
        dims = [in_channels * image_size * image_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        layers += [nn.Linear(dims[-1], out_channels * grid * grid)]
        self.net = nn.Sequential(*layers)
        self.action = action

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.net(x)).view(len(x), self.out_channels, 1, self.grid, self.grid)
