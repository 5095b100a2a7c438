"""Scale-equivariant encoder: a steerable scale convolution with a discrete scale axis.

escnn has no scale group, so this follows SESN (Sosnovik et al., ICLR 2020) in plain torch:
every kernel is a learned combination of a fixed Hermite-Gaussian basis, and the basis is
sampled once per scale s (dilated by s, amplitude 1/s^2), so the same weights act at every
scale. A lifting layer maps an image to ``(B, C, S, H, W)``; scale-to-scale layers apply the
scale-s kernel to the scale-s slice. Zooming the input out by s_j / s_0 then moves the
output along the scale axis by j (up to discretisation: pixels, finite kernels), which the
tests check within a stated tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.encoders.base import Element, LiftedEncoder
from structured_ssl.encoders.scale_action import ScaleAction
from structured_ssl.groups import Group


def hermite_basis(kernel_size: int, effective_size: int, scales: Sequence[float], fit: float = 2.5) -> torch.Tensor:
    """Hermite-Gaussian functions ``(F, S, k, k)`` with ``F = effective_size**2``.

    psi_nm(x, y) = H_n(x / w) H_m(y / w) exp(-(x^2 + y^2) / (2 w^2)) / s^2 with width
    w = w0 * s, sampled on the k x k grid centred at 0. w0 is chosen so that ``fit`` widths
    of the LARGEST scale still fit in the kernel (no truncation, which would break the
    dilation). Each function is normalised at the smallest scale and keeps that constant,
    so a kernel at scale s is exactly the scale-1 kernel dilated by s (in the continuum).
    """
    half = (kernel_size - 1) / 2
    grid = np.arange(kernel_size) - half
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    base_width = half / (fit * max(scales))
    functions = []
    for n in range(effective_size):
        for m in range(effective_size):
            per_scale = []
            for s in scales:
                width = base_width * s
                hx = np.polynomial.hermite.hermval(xx / width, [0] * n + [1])
                hy = np.polynomial.hermite.hermval(yy / width, [0] * m + [1])
                envelope = np.exp(-(xx**2 + yy**2) / (2 * width**2))
                per_scale.append(hx * hy * envelope / s**2)
            stack = np.stack(per_scale)
            stack /= np.linalg.norm(stack[0]) + 1e-12
            functions.append(stack)
    return torch.tensor(np.stack(functions), dtype=torch.float32)


class ScaleLift(nn.Module):
    """Image ``(B, C_in, H, W)`` -> scale-lifted ``(B, C_out, S, H', W')``, one conv2d call."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, effective_size: int,
                 scales: Sequence[float], stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.register_buffer("basis", hermite_basis(kernel_size, effective_size, scales), persistent=False)
        n_funcs = self.basis.shape[0]
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, n_funcs) * math.sqrt(2.0 / (in_channels * n_funcs)))
        self.stride, self.padding, self.num_scales = stride, padding, len(scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernels = torch.einsum("oif,fskl->soikl", self.weight, self.basis)  # (S, O, I, k, k)
        s, o = kernels.shape[:2]
        y = F.conv2d(x, kernels.reshape(s * o, *kernels.shape[2:]), stride=self.stride, padding=self.padding)
        return y.unflatten(1, (s, o)).transpose(1, 2)


class ScaleConv(nn.Module):
    """Scale-lifted -> scale-lifted: the scale-s kernel on the scale-s slice (grouped conv)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, effective_size: int,
                 scales: Sequence[float], stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.register_buffer("basis", hermite_basis(kernel_size, effective_size, scales), persistent=False)
        n_funcs = self.basis.shape[0]
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, n_funcs) * math.sqrt(2.0 / (in_channels * n_funcs)))
        self.stride, self.padding, self.num_scales = stride, padding, len(scales)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, s, h, w = z.shape
        kernels = torch.einsum("oif,fskl->soikl", self.weight, self.basis)  # (S, O, I, k, k)
        o = kernels.shape[1]
        x = z.transpose(1, 2).reshape(b, s * c, h, w)
        y = F.conv2d(x, kernels.reshape(s * o, *kernels.shape[2:]), stride=self.stride, padding=self.padding, groups=s)
        return y.unflatten(1, (s, o)).transpose(1, 2)


class ScaleBatchNorm(nn.BatchNorm3d):
    """Batch norm shared across scales (statistics over batch, scale and space per channel);
    a torch BatchNorm3d, so SyncBatchNorm conversion covers it."""


class ScaleEncoder(LiftedEncoder):
    """Lift -> BN -> ReLU -> (ScaleConv stride 2 -> BN -> ReLU) x 2; output ``(B, C, S, H', W')``."""

    def __init__(self, in_channels: int, group: Group, widths: Sequence[int] = (8, 16, 32),
                 kernel_sizes: Sequence[int] = (11, 7, 7), effective_sizes: Sequence[int] = (3, 3, 3),
                 strides: Sequence[int] = (1, 2, 2)) -> None:
        super().__init__()
        if group.kind != "scale":
            raise ValueError(f"ScaleEncoder needs group.kind='scale', got {group.kind!r}")
        self.group = group
        self.out_channels = int(widths[-1])
        layers: list[nn.Module] = []
        current = in_channels
        for i, (width, k, e, s) in enumerate(zip(widths, kernel_sizes, effective_sizes, strides, strict=True)):
            conv = ScaleLift if i == 0 else ScaleConv
            layers += [conv(current, int(width), k, e, group.scales, s, k // 2), ScaleBatchNorm(int(width)), nn.ReLU(inplace=True)]
            current = int(width)
        self.net = nn.Sequential(*layers)
        self.action = ScaleAction(group)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return self.action.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return self.action.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return self.action.comparable(z, g)
