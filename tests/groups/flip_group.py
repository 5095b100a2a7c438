"""A test-only group: the flip group Z2 (identity and a horizontal mirror), plug-in AND layers.

It shows the contract of ``structured_ssl.groups.base``: a new group is this one file (its
plug-in, its layers and their action) plus one config file (``tests/groups/flip_group.yaml``), with
no change anywhere in ``src``. Its layers follow the paper's filter-copy construction: each
filter is used as it is for the identity slice and mirrored for the mirror slice, slices never
mix, so the mirror moves the lifted map exactly as :class:`MirrorAction` says. They are built
on ``structured_ssl.lifted`` only (the encoder base, the default fiber map). Importing it
registers ``kind: flip``; ``tests/groups/test_flip_group.py`` imports it inside a fixture and
unregisters it afterwards, so other tests never see it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.groups import Element, GroupPlugin, ViewAffine
from structured_ssl.groups.kit import SmallLayout
from structured_ssl.lifted.action import LiftedAction
from structured_ssl.lifted.base import LiftedEncoder


class MirrorAction(LiftedAction):
    """T_1 mirrors the image's width axis; Γ_1 mirrors the map's and swaps the two slices."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return x.flip(-1) if g[0] % 2 else x

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return z.flip(-1).flip(2) if g[0] % 2 else z


class MirrorConv(nn.Module):
    """``out_f = (M^f psi) * in_f`` (lifting: ``* x`` for both f), stride s, padding k // 2."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, lifting: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) * (2.0 / (cin * k * k)) ** 0.5)
        self.stride, self.lifting = stride, lifting

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = [x, x] if self.lifting else [x[:, :, 0], x[:, :, 1]]
        kernels = [self.weight, self.weight.flip(-1)]
        pad = self.weight.shape[-1] // 2
        return torch.stack(
            [
                F.conv2d(s, w, stride=self.stride, padding=pad)
                for s, w in zip(slices, kernels, strict=True)
            ],
            2,
        )


class FlipEncoder(LiftedEncoder):
    """Mirror-copy convs, BatchNorm3d shared over the group axis, ReLU: ``(B, C, 2, H', W')``.
    Exact for odd sizes at every stride-2 input (21 -> 11 -> 6)."""

    def __init__(self, in_channels, group, widths, kernel_sizes, strides) -> None:
        super().__init__()
        self.group, self.out_channels, self.action = group, int(widths[-1]), MirrorAction()
        layers: list[nn.Module] = []
        current = in_channels
        for i, (width, k, s) in enumerate(zip(widths, kernel_sizes, strides, strict=True)):
            layers += [MirrorConv(current, width, k, s, i == 0), nn.BatchNorm3d(width), nn.ReLU()]
            current = width
        self.net = nn.Sequential(*layers)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Flip(GroupPlugin):
    """Z2: the identity and the mirror about the vertical axis; the index grid is ``(f,)``."""

    kind = "flip"
    grid_cyclic: ClassVar[bool] = True

    @property
    def size(self) -> int:
        return 2

    def exact_input_elements(self) -> list[Element]:
        return [(0,), (1,)]  # a mirror permutes pixels: exact

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> MirrorAction:
        return MirrorAction()

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        return FlipEncoder(
            layout.in_channels, self.spec, layout.widths, layout.kernel_sizes, layout.strides
        )

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        return dataclasses.replace(view, flip=elements[:, -1].float())  # mirror the view when f = 1

    short_name_format: ClassVar[str] = "F2"
