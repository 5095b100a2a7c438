"""The paper's rotation layers: ONE SESN filter copied at every element of C4 or D4.

The paper builds its rotation backbones from SESN layers with one scale and the basis
"copied at 0/90/180/270 degrees" (PAPER.md): each output orientation g convolves the input
at the SAME orientation g with the filter transformed by g, and nothing mixes orientations
(SESN's ``scale_size=1``). escnn's regular-to-regular ``R2Conv`` instead learns a filter for
every pair of input and output orientations: for C4, 24 instead of 9 coefficients per 3x3
field pair (its basis is band-limited), 2.7x the parameters, and |G| times the conv FLOPs.

Exactness: rotating a k x k filter by 90 degrees (``torch.rot90``) or flipping it is exact on
the pixel grid, so the layers are exactly equivariant for C4 and D4 (up to float rounding),
provided the strided layers see odd sizes (``encoders/paper_layers.exact_rotation_size``).

Equivariance, with ``psi_g = T_g psi`` (T the image action escnn uses):
lifting ``f_g(x) = psi_g * x`` gives ``f_g(T_h x) = T_h f_{h^-1 g}(x)``, and the group conv
``out_g = psi_g * in_g`` keeps that form, which is exactly Γ_h of escnn's regular
representation. So :class:`~structured_ssl.groups.rotation.layers.RegularFieldAction` is the action
of these layers too, and the group elements are ordered as escnn orders its regular
representation: which rot90/flip realises each element is read off escnn once (no guessing
of conventions).

Filters are combinations of the SESN basis at scale 1 (``lifted/hermite.py``) with the
paper's effective sizes, so the parameter count is ``C_out C_in eff^2`` per layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.groups.rotation.layers import make_gspace
from structured_ssl.lifted.escnn_compat import enn
from structured_ssl.lifted.hermite import hermite_basis

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group


Rot90Op = tuple[bool, int]  # (flip the width axis first, then rot90 by k quarter turns)


def check_rot90_group(group: Group) -> None:
    if not group.plugin.rot90_copies or group.order != 4:
        raise ValueError(
            f"encoder.rotation_conv='sesn_copies' with group kind={group.kind!r}, order={group.order}: "
            "filter copies are exact only for C4 and D4 (group.order=4); use rotation_conv='escnn' otherwise"
        )


def apply_op(op: Rot90Op, t: torch.Tensor) -> torch.Tensor:
    """``t`` flipped (if the op says so) then turned by the op's quarter turns."""
    flip, k = op
    if flip:
        t = t.flip(-1)
    return torch.rot90(t, k, dims=(-2, -1))


@cache
def element_ops(group: Group) -> tuple[Rot90Op, ...]:
    """The rot90/flip that equals escnn's image action for each element of the regular
    representation's basis, in that basis' order (found by matching on a random image)."""
    gspace = make_gspace(group)
    field = enn.FieldType(gspace, [gspace.trivial_repr])
    image = torch.randn(1, 1, 7, 7, generator=torch.Generator().manual_seed(0))
    candidates = [(flip, k) for flip in (False, True) for k in range(4)]
    ops = []
    for element in gspace.fibergroup.elements:
        moved = enn.GeometricTensor(image, field).transform(element).tensor
        matches = [op for op in candidates if torch.allclose(apply_op(op, image), moved, atol=1e-5)]
        if len(matches) != 1:
            raise RuntimeError(
                f"escnn's action of {element} is not one rot90/flip of the grid: {matches}"
            )
        ops.append(matches[0])
    return tuple(ops)


class _Rot90Base(nn.Module):
    """A filter bank ``psi`` on the SESN basis, and its copies ``T_g psi`` for every g."""

    basis: torch.Tensor  # registered buffer (|G|, F, k, k)

    def __init__(
        self,
        group: Group,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        effective_size: int,
        stride: int,
        padding: int,
    ) -> None:
        super().__init__()
        check_rot90_group(group)
        self.ops = element_ops(group)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        effective = min(effective_size, kernel_size)
        basis = hermite_basis(kernel_size, effective, (1.0,))[:, 0]  # (F, k, k)
        # the basis transformed by every element, once: the copies are then ONE einsum per
        # step (no flips of the wide filter bank in the autograd graph)
        self.register_buffer(
            "basis", torch.stack([apply_op(op, basis) for op in self.ops])
        )  # (|G|, F, k, k)
        funcs = basis.shape[0]
        # He-normal on the coefficients: the basis is L2-normalised, so a kernel's energy is
        # about the sum of its squared coefficients (fan-in = C_in x functions)
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, funcs) * math.sqrt(2.0 / (in_channels * funcs))
        )

    def copies(self) -> torch.Tensor:
        """``(|G|, C_out, C_in, k, k)``: the filter transformed by every group element."""
        return torch.einsum("oif,gfkl->goikl", self.weight, self.basis)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.kernel_size}, funcs={self.basis.shape[1]}, "
            f"|G|={len(self.ops)}, stride={self.stride}, padding={self.padding}"
        )


class Rot90Lift(_Rot90Base):
    """Images ``(B, C_in, H, W)`` -> lifted ``(B, C_out, |G|, H', W')``: one conv, |G| C_out outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernels = (
            self.copies().transpose(0, 1).flatten(0, 1)
        )  # (C_out |G|, C_in, k, k), channel-major
        y = F.conv2d(x, kernels, stride=self.stride, padding=self.padding)
        return y.unflatten(1, (self.out_channels, len(self.ops)))


class Rot90GroupConv(_Rot90Base):
    """Lifted -> lifted without mixing orientations: ``out_g = (T_g psi) * in_g``, one grouped conv."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, g, h, w = z.shape
        if c != self.in_channels or g != len(self.ops):
            raise ValueError(
                f"Rot90GroupConv expects (B, {self.in_channels}, {len(self.ops)}, H, W), got {tuple(z.shape)}"
            )
        x = z.transpose(1, 2).reshape(b, g * c, h, w)  # orientation-major: one conv group per g
        kernels = self.copies().flatten(0, 1)  # (|G| C_out, C_in, k, k)
        y = F.conv2d(x, kernels, stride=self.stride, padding=self.padding, groups=g)
        return y.unflatten(1, (g, self.out_channels)).transpose(1, 2)


def filter_copies(group: Group) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """``kernel -> [T_g kernel for g in the regular basis' order]`` (the read-out conv's copies)."""
    return lambda kernel: [apply_op(op, kernel) for op in element_ops(group)]
