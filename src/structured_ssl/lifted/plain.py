"""Plain convolution stacks: what the translation encoder, the input-lifted scale encoder and
the structure-free twins are made of (Conv -> BatchNorm -> ReLU, no group)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.lifted.base import check_layer_lengths

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
