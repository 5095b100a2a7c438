"""Rotation (C_N) and dihedral (D_N) equivariant encoders, built with escnn.

Regular-representation fields: each of the ``widths[-1]`` output fields carries |G| channels,
one per group element, so the escnn output ``(B, c |G|, H, W)`` is viewed channel-major as
the lifted ``(B, c, |G|, H, W)``. escnn objects are built here from plain settings (group,
widths), never pickled or stored in hyperparameters (escnn models do not pickle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from structured_ssl.groups.kit import SMALL_LAYERS, ConvLayers
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.base import LiftedEncoder, check_layer_lengths
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.escnn_compat import enn, gspaces
from structured_ssl.lifted.escnn_init import r2conv

if TYPE_CHECKING:
    from structured_ssl.groups.kit import ConvShape
    from structured_ssl.groups.spec import Group


def make_gspace(group: Group) -> gspaces.GSpace2D:
    """The escnn gspace of the group (its plug-in's
    [`gspace`][structured_ssl.groups.base.GroupPlugin.gspace]; groups without one reject it in one
    line)."""
    return group.plugin.gspace()


def group_element(gspace: gspaces.GSpace2D, group: Group, g: Element):
    """Our index tuple -> the escnn group element (rotation k, or flip f then rotation k)."""
    return group.plugin.escnn_element(gspace, g)


def cyclic_gspace(order: int) -> gspaces.GSpace2D:
    """C_N acting on the plane (escnn)."""
    return gspaces.rot2dOnR2(N=order)


def dihedral_gspace(order: int) -> gspaces.GSpace2D:
    """D_N acting on the plane (escnn; the flip mirrors the width axis)."""
    return gspaces.flipRot2dOnR2(N=order)


def escnn_group_conv(gspace: gspaces.GSpace2D, shape: ConvShape) -> nn.Module:
    """escnn's full regular-field convolution (``rotation_conv="escnn"``), padding ``k // 2``."""
    in_repr = gspace.trivial_repr if shape.lifting else gspace.regular_repr
    in_type = enn.FieldType(gspace, [in_repr] * shape.in_channels)
    out_type = enn.FieldType(gspace, [gspace.regular_repr] * shape.out_channels)
    k = shape.kernel_size
    return r2conv(in_type, out_type, k, stride=shape.stride, padding=k // 2, bias=False)


def escnn_conv_forward(conv: nn.Module, x: torch.Tensor, lifting: bool, size: int) -> torch.Tensor:
    """[`escnn_group_conv`][structured_ssl.groups.rotation.layers.escnn_group_conv]'s module on the
    lifted layout (images when ``lifting``)."""
    if not isinstance(conv, enn.R2Conv):
        raise TypeError(f"rotation_conv='escnn' expects an escnn R2Conv, got {type(conv)}")
    flat = x if lifting else x.flatten(1, 2)
    out_channels = conv.out_type.size // size
    return conv(enn.GeometricTensor(flat, conv.in_type)).tensor.unflatten(1, (out_channels, size))


class RegularFieldAction(LiftedAction):
    """T_g on images and Γ_g on regular-representation lifted maps, as escnn defines them; the
    fibers are the space-pooled group axis on the group's fiber grid (D_N: ``(2, N)``).

    Used by the escnn encoders, the paper's filter copies and, as the *claimed* action, by
    their unstructured twins.
    """

    def __init__(self, group: Group, in_channels: int, out_channels: int) -> None:
        self.group = group
        self.out_channels = out_channels
        self.gspace = make_gspace(group)
        self.in_type = enn.FieldType(self.gspace, [self.gspace.trivial_repr] * in_channels)
        self.out_type = enn.FieldType(self.gspace, [self.gspace.regular_repr] * out_channels)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        element = group_element(self.gspace, self.group, g)
        return enn.GeometricTensor(x, self.in_type).transform(element).tensor

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        element = group_element(self.gspace, self.group, g)
        flat = enn.GeometricTensor(z.flatten(1, 2), self.out_type)
        return flat.transform(element).tensor.unflatten(1, (self.out_channels, self.group.size))

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return self.group.plugin.fiber_map(z)


def regular_stack(
    in_type: enn.FieldType, layers: ConvLayers, padding_mode: str = "zeros"
) -> enn.SequentialModule:
    """Regular-field conv, batch norm, ReLU per layer, padding ``k // 2``: the layers of every
    C_N / D_N steerable CNN here (on the plane: rotation, dihedral; on the torus with
    ``padding_mode="circular"``: roto-translation)."""
    gspace = in_type.gspace
    modules: list[enn.EquivariantModule] = []
    current = in_type
    for width, k, s in zip(layers.widths, layers.kernel_sizes, layers.strides, strict=True):
        out_type = enn.FieldType(gspace, [gspace.regular_repr] * int(width))
        modules += [
            r2conv(
                current,
                out_type,
                k,
                stride=s,
                padding=k // 2,
                bias=False,
                padding_mode=padding_mode,
            ),
            enn.InnerBatchNorm(out_type),
            enn.ReLU(out_type, inplace=True),
        ]
        current = out_type
    return enn.SequentialModule(*modules)


class SteerableEncoder(LiftedEncoder):
    """An escnn CNN on images: trivial input fields on ``gspace``, ``out_channels`` fields
    out; the subclass builds ``net`` and the action (rotation, roto-translation, SO(2))."""

    def __init__(
        self, in_channels: int, group: Group, gspace: gspaces.GSpace2D, layers: ConvLayers
    ) -> None:
        super().__init__()
        check_layer_lengths(layers.widths, layers.kernel_sizes, layers.strides)
        self.group = group
        self.out_channels = int(layers.widths[-1])
        self.gspace = gspace
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr] * in_channels)


class RotationEncoder(SteerableEncoder):
    """A small steerable CNN: a lifting conv then regular-to-regular convs, with batch norm.

    Args:
        in_channels: image channels.
        group: rotation or dihedral group (its ``order`` is N).
        layers: regular fields per layer (the last is the channels per fiber C), kernel sizes
            and strides; padding is ``k // 2``. Exact 90-degree equivariance needs an odd
            spatial size at every stride-2 input (21 -> 11 -> 6 is fine).
    """

    def __init__(self, in_channels: int, group: Group, layers: ConvLayers = SMALL_LAYERS) -> None:
        super().__init__(in_channels, group, make_gspace(group), layers)
        self.net = regular_stack(self.in_type, layers)
        self.action = RegularFieldAction(group, in_channels, self.out_channels)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(enn.GeometricTensor(x, self.in_type)).tensor
        return y.unflatten(1, (self.out_channels, self.group.size))

    def export_plain(self) -> nn.Module:
        """Plain-torch copy for fast evaluation passes (escnn's ``export``, eval mode)."""
        import copy

        return copy.deepcopy(self.net).eval().export()
