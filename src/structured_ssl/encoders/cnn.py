"""Plain (non-group) encoders: the translation CNN and the structure-free twins.

* :class:`TranslationCNN` is an ordinary CNN: equivariant to shifts by multiples of its
  total stride (exactly so with circular padding), with the spatial cells of its last map
  as fibers. Lifted layout ``(B, C, 1, H', W')``.
* :class:`UnstructuredCNN` has the same depth but splits its output channels into |G| fake
  fibers ``(B, C, |G|, H', W')``: the ablation where nothing moves the group axis.
* :class:`UnstructuredMLP` flattens the image, so even its "spatial" fibers are fake (the
  paper's Table 2 translation twin).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.encoders.base import (
    Element,
    GroupAction,
    LiftedEncoder,
    check_layer_lengths,
    group_action,
)

if TYPE_CHECKING:
    from structured_ssl.groups import Group  # a type only: the groups import the encoders

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PADDING_MODES: tuple[PaddingMode, ...] = get_args(PaddingMode)


def padding_mode_of(mode: str) -> PaddingMode:
    """``mode`` as one of nn.Conv2d's padding modes (ValueError otherwise, as Conv2d raises)."""
    for known in PADDING_MODES:
        if mode == known:
            return known
    raise ValueError(f"padding_mode={mode!r}; expected one of {list(PADDING_MODES)}")


def conv_stack(
    in_channels: int,
    widths: Sequence[int],
    kernel_sizes: Sequence[int],
    strides: Sequence[int],
    padding_mode: str = "zeros",
) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> ReLU per layer, padding ``k // 2``."""
    check_layer_lengths(widths, kernel_sizes, strides)
    layers: list[nn.Module] = []
    current = in_channels
    for width, k, s in zip(widths, kernel_sizes, strides, strict=True):
        layers += [
            nn.Conv2d(
                current,
                int(width),
                k,
                stride=s,
                padding=k // 2,
                bias=False,
                padding_mode=padding_mode_of(padding_mode),
            ),
            nn.BatchNorm2d(int(width)),
            nn.ReLU(inplace=True),
        ]
        current = int(width)
    return nn.Sequential(*layers)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad ``(..., H, W)`` after the last row and column up to a multiple of ``multiple``.

    Why: with circular padding a conv stack of total stride s commutes with cyclic shifts by s
    pixels only when the canvas is a multiple of s. Images whose content stays away from the
    border shift the same on the padded canvas as on their own, so the shift stays exact.
    """
    height, width = x.shape[-2:]
    extra_h, extra_w = (-height) % multiple, (-width) % multiple
    return F.pad(x, (0, extra_w, 0, extra_h)) if extra_h or extra_w else x


def total_stride(strides: Sequence[int]) -> int:
    out = 1
    for s in strides:
        out *= s
    return out


class TranslationCNN(LiftedEncoder):
    """Ordinary CNN; its fibers are the spatial cells of the last feature map.

    A shift of the input by ``stride`` pixels (the product of layer strides) moves the
    output by one cell. With ``padding_mode="circular"`` (the default) the input is first
    zero-padded to a multiple of ``stride``, so the shift is exact for content away from the
    border whatever the weights are: training cannot buy accuracy from absolute position.
    With zero padding it holds only away from the border, and training learns to break it.
    """

    def __init__(
        self,
        in_channels: int,
        group: Group,
        widths: Sequence[int] = (32, 64, 128),
        kernel_sizes: Sequence[int] = (5, 3, 3),
        strides: Sequence[int] = (1, 2, 2),
        padding_mode: str = "circular",
    ) -> None:
        super().__init__()
        self.group = group
        self.out_channels = int(widths[-1])
        self.stride = total_stride(strides)
        self.padding_mode = padding_mode
        self.net = conv_stack(in_channels, widths, kernel_sizes, strides, padding_mode)

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode == "circular":
            x = pad_to_multiple(x, self.stride)
        return self.net(x).unsqueeze(2)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(x, shifts=(dy * self.stride, dx * self.stride), dims=(-2, -1))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(z, shifts=(dy, dx), dims=(-2, -1))


class ClaimsStructuredAction(LiftedEncoder):
    """A structure-free twin: it claims the action of the encoder it stands in for
    (``self.claimed_action``) so that the equivariance check can show the claim is false."""

    claimed_action: GroupAction
    structured = False

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        return self.claimed_action.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return self.claimed_action.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        compare = getattr(self.claimed_action, "comparable", None)
        return compare(z, g) if compare else z


class UnstructuredCNN(ClaimsStructuredAction):
    """A plain CNN whose ``C * |G|`` output channels are read as |G| fake fibers.

    It claims the group action of the structured encoder it stands in for (a cyclic shift
    of the group axis for rotations, a shift for scales) so that the equivariance metric
    can show that the claim is false.
    """

    structured = False

    def __init__(
        self,
        in_channels: int,
        group: Group,
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
        self.claimed_action = group_action(group, in_channels, out_channels)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).unflatten(1, (self.out_channels, self.group.size))


class UnstructuredMLP(LiftedEncoder):
    """An MLP whose output is reshaped into a fake spatial grid of fibers ``(B, C, 1, h, w)``."""

    structured = False

    def __init__(
        self,
        in_channels: int,
        group: Group,
        image_size: int,
        out_channels: int = 32,
        grid: int = 6,
        hidden: Sequence[int] = (256,),
    ) -> None:
        super().__init__()
        self.group = group
        self.out_channels = out_channels
        self.grid = grid
        self.stride = max(1, image_size // grid)
        dims = [in_channels * image_size * image_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        layers += [nn.Linear(dims[-1], out_channels * grid * grid)]
        self.net = nn.Sequential(*layers)

    @property
    def cell_pixels(self) -> int:
        return self.stride

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.net(x)).view(len(x), self.out_channels, 1, self.grid, self.grid)

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(x, shifts=(dy * self.stride, dx * self.stride), dims=(-2, -1))

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        dy, dx = g
        return torch.roll(z, shifts=(dy, dx), dims=(-2, -1))
