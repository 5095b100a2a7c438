"""The hue input lift: one shared network on the N hue-shifted copies of the image.

``f(x)(h) = F(T_h^-1 x)`` (the textbook lifting, as ``encoders/scale_pyramid.py`` lifts by
zooms): F is a plain network, run in ONE batched pass on the N copies ``R_-h x``. Then

    f(T_k x)(h) = F(R_-h R_k x) = F(R_-(h-k) x) = f(x)(h - k),

so Γ_k is a roll of the group axis by k: an index permutation, whatever F's depth, padding or
weights. The only error is the float round-off of ``R_-h R_k`` against ``R_-(h-k)``; training
cannot break it. After the lift, optional group convolutions mix the cyclic hue axis (a
circular 1-D convolution along it, shared over channels' positions): rolls commute with them,
so the lift stays exact.

The lift also wraps a lifted network (``F`` returning ``(B, C, G, H', W')``, e.g. the crop
encoder): the group axis is then the product ``N x G`` flattened hue-major, and the action
is the hue roll composed with the inner network's own action
([`HueAction`][structured_ssl.groups.hue.encoder.HueAction]).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from structured_ssl.groups.hue.colour import hue_rotate
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import Element


class HueAction(LiftedAction):
    """T_g and Γ_g of hue (x an inner action): g = ``(k, *inner)``.

    Args:
        order: N, the number of hue shifts.
        inner: the action of the wrapped lifted network on its own group axis, or None.
        inner_size: |G| of that axis (1 without one).
    """

    def __init__(self, order: int, inner: Any = None, inner_size: int = 1) -> None:
        self.order, self.inner, self.inner_size = int(order), inner, int(inner_size)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        moved = hue_rotate(x, int(g[0]), self.order)
        return self.inner.transform_input(moved, g[1:]) if self.inner is not None else moved

    def _split(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C, N G, H, W)`` -> ``(B, C N, G, H, W)``: the inner action sees C N channels."""
        b, c, _, h, w = z.shape
        return z.reshape(b, c * self.order, self.inner_size, h, w)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        b, c, _, h, w = z.shape
        if self.inner is not None:
            z = self.inner.transform_output(self._split(z), g[1:]).reshape(b, c, -1, h, w)
        hue = z.unflatten(2, (self.order, -1))
        return torch.roll(hue, shifts=int(g[0]), dims=2).flatten(2, 3)

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """Hue alone: space averaged away ``(B, C, N)``; around a lift that keeps its cells
        (crop): ``(B, C, N, G, H', W')``, the product grid."""
        if self.inner is None:
            return z.mean(dim=(-2, -1))
        return z.unflatten(2, (self.order, -1))

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The inner action's comparable part (all of it for hue alone)."""
        if self.inner is None:
            return z
        b, c, _, h, w = z.shape
        part = self.inner.comparable(self._split(z), g[1:])
        return part.reshape(b, c, -1, part.shape[-2], part.shape[-1])


def group_mixing(channels: int, order: int, layers: int) -> nn.Sequential:
    """``layers`` circular convolutions along the hue axis (kernel 3, or N when N < 3), each
    followed by batch norm and ReLU: equivariant to rolls of that axis (a group convolution on
    C_N with regular fields)."""
    kernel = min(3, order)
    modules: list[nn.Module] = []
    for _ in range(layers):
        modules += [
            nn.Conv3d(
                channels,
                channels,
                (kernel, 1, 1),
                padding=(kernel // 2, 0, 0),
                padding_mode="circular",
                bias=False,
            ),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*modules)


class HueLiftedEncoder(LiftedEncoder):
    """``(B, 3, H, W)`` -> ``(B, C, N G, H', W')`` with ``z[:, :, h] = net(R_-h x)``.

    Args:
        net: a plain network (``(B, 3, H, W)`` -> ``(B, C, H', W')`` or ``(B, C, 1, H', W')``)
            or a lifted one (``(B, C, G, H', W')``, with ``inner_action``).
        group: the group description (hue, or hue x crop).
        out_channels: C, the channels per fiber.
        order: N, the number of hue shifts.
        mixing_layers: group convolutions along the hue axis after the lift.
        inner_action, inner_size: the wrapped lifted network's action and |G| (products).
    """

    def __init__(
        self,
        net: nn.Module,
        group: Any,
        out_channels: int,
        order: int,
        mixing_layers: int = 0,
        inner_action: Any = None,
        inner_size: int = 1,
    ) -> None:
        super().__init__()
        self.net, self.group, self.out_channels = net, group, int(out_channels)
        self.order = int(order)
        self.mixing: nn.Sequential = group_mixing(self.out_channels, self.order, mixing_layers)
        self.action = HueAction(self.order, inner_action, inner_size)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        copies = torch.cat([hue_rotate(x, -h, self.order) for h in range(self.order)])
        z = self.net(copies)  # (N B, C, [G,] H', W'), hue-major
        z = z.unsqueeze(2) if z.dim() == 4 else z
        z = z.unflatten(0, (self.order, x.shape[0])).permute(1, 2, 0, 3, 4, 5)  # (B, C, N, G, h, w)
        b, c, n, g, h, w = z.shape
        mixed = self.mixing(z.reshape(b, c, n, g * h, w)) if len(self.mixing) else z
        return mixed.reshape(b, c, n * g, h, w)
