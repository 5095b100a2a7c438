"""Scale lifting by zooming the input: the paper ResNets' scale encoder.

A scale-lifted map can be built two ways. SESN dilates the kernels: every layer holds one
kernel per scale (``groups/scale/conv.py``). Or the lift can act on the input, the textbook
lifting ``f(x)(s) = F(T_s^-1 x)``: one plain network F applied to the image zoomed out by
each ``scales[s] / scales[0]`` (the paper's A-SSL scale orbit, zoom factors 1 .. 0.57), in ONE
batched pass. Zooming the input by a group element then feeds F the same image at a matched
scale, whatever F's depth or weights, so the only error is interpolation: composing two
zooms against one.

Why both exist (``benchmarks/scale_resnet_design.py`` -> ``docs/results/scale_resnet_design.md``:
paper_cifar, 33 px probe images, random init, eval mode, the paper's six scales): SESN layers
hold the bound in the 3-layer encoders (fiber error 0.01-0.06), but in the paper ResNet the
lifting conv alone (kernel 7, Hermite order 7) reads 0.45 against a no-shift error of 0.40,
and the whole 20-layer network 0.37 / 0.54 (one / two steps) against 0.30: worse than
claiming no action. The input lift reaches 0.017 / 0.021 on the same ResNet (ratio 0.06), and
since the bound does not depend on F's weights, training cannot break it. It costs what
SESN's costs: F runs once per scale at full resolution, as every SESN conv does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from structured_ssl.groups.scale.action import ScaleAction
from structured_ssl.groups.scale.conv import downscale
from structured_ssl.lifted.base import LiftedEncoder

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group


class InputLiftedScaleEncoder(LiftedEncoder):
    """``(B, C_in, H, W)`` -> ``(B, C, S, H', W')`` with ``z[:, :, s] = net(zoom_out(x, scales[s]))``.

    Args:
        net: a plain network on the translation lifted layout (``(B, C_in, H, W)`` in,
            ``(B, C, 1, H', W')`` out), e.g. ``paper.resnet(TRANSLATION, ...)``.
        group: the scale group (its ``scales`` are the zooms).
        out_channels: C, the channels per fiber.
    """

    def __init__(self, net: nn.Module, group: Group, out_channels: int) -> None:
        super().__init__()
        self.net, self.group, self.out_channels = net, group, out_channels
        self.action = ScaleAction(group, maps_zoom=False)  # its pool (plain mean) is the fiber map

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        scales = self.group.scales
        zoomed = torch.cat(
            [downscale(x, s / scales[0]) for s in scales]
        )  # (S B, C, H, W), scale-major
        z = self.net(zoomed)
        z = z[:, :, 0] if z.dim() == 5 else z  # plain nets may return (B, C, H, W)
        return z.unflatten(0, (len(scales), x.shape[0])).permute(1, 2, 0, 3, 4)
