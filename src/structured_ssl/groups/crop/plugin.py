"""Crop as structure: the product scale x translation on the scale encoder's lifted map.

Index grid ``(s, row, col)``: the scale axis (not cyclic) x the spatial cells of the last map.
T_g crops and resizes (``action.py``: zoom in by ``scales[j] / scales[0]`` about the centre
shifted by whole cells); the encoder is the scale input lift with the cells kept
(``encoder.py``). A-SSL's views are those crops, on the grid ``(s, i, j)`` with shifts of
``i - M, j - M`` cells (M = max(1, max_shift // stride)), so both objectives see the same
elements. Γ_g is defined on the matched scales, and interpolates at all but one of them, so
the bound is measured, not exact (``CROP`` below, docs/concepts/colour-and-crop.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch

from structured_ssl.groups.base import ViewAffine
from structured_ssl.groups.crop.action import CropAction
from structured_ssl.groups.crop.encoder import CropLiftedEncoder
from structured_ssl.groups.kit import SmallLayout
from structured_ssl.groups.scale.conv import gaussian_blur
from structured_ssl.groups.translation.cells import CellProduct, CellShifts
from structured_ssl.groups.translation.layers import TranslationCNN
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.bounds import EquivarianceBound
from structured_ssl.lifted.contract import Element

#: the small network's total stride (1, 2, 2): one cell is this many input pixels.
CELL_PIXELS = 4
#: the probes' smoothness (px) and window (share of the image): see ``Crop.probe_images``.
PROBE_SIGMA = 2.0
PROBE_WINDOW = 0.12
#: the bound a crop's lift keeps where Γ_g is defined (measured: tests/groups/test_crop_group.py).
CROP = EquivarianceBound(
    0.2, 0.25, "a crop upsamples, then the lift zooms out: two resamplings against one"
)


def crop_checked(scales: int) -> list[Element]:
    """Zooms by 0, 1, 2 steps, each with no shift and shifts of one cell (the probes' content
    stays inside every such window on the 21 px digits)."""
    shifts = ((0, 0), (0, 1), (1, 0), (-1, -1))
    return [
        (j, dy, dx) for j in range(min(3, scales)) for dy, dx in shifts if (j, dy, dx) != (0, 0, 0)
    ]


def small_crop_encoder(group: Any, layout: SmallLayout) -> CropLiftedEncoder:
    """The crop encoder on the small plain network, circular padding on a whole-cell canvas
    (so a crop shifted by whole cells is a roll of the map at its own scale)."""
    plain = dataclasses.replace(group, kind="translation", options=None)
    net = TranslationCNN(layout.in_channels, plain, layout.layers, "circular")
    return CropLiftedEncoder(net, group, layout.widths[-1], CELL_PIXELS)


class Crop(CellProduct):
    """Scale x translation on the input-lifted scale map (crop-and-resize views)."""

    kind = "crop"
    # has_group_axis stays True: the lifted map has a scale axis, so the factory's twin (a plain
    # CNN whose C x S channels are fake scales, cells kept) has the same (S, H', W') fiber grid
    grid_cyclic: ClassVar[bool] = False
    shifts: ClassVar[CellShifts] = CellShifts(CELL_PIXELS)
    small_widths: ClassVar[tuple[int, ...]] = (16, 32, 32)

    def validate(self) -> None:
        super().validate()
        if (
            len(self.scales) < 2
            or any(s <= 0 for s in self.scales)
            or list(self.scales) != sorted(self.scales)
        ):
            raise ValueError(
                f"group.scales={list(self.scales)} must list at least 2 positive, increasing scales "
                "(the crop zooms scales[j] / scales[0])"
            )

    @property
    def scale_count(self) -> int:
        return len(self.scales)

    @property
    def size(self) -> int:
        return self.scale_count

    def exact_input_elements(self) -> list[Element]:
        return [(0, 0, 0), *crop_checked(self.scale_count)]  # defined, within the measured bound

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> Any:
        return CropAction(self.spec, CELL_PIXELS)

    def equivariance_bound(self) -> EquivarianceBound:
        return CROP

    def probe_images(self, channels: int, size: int, count: int = 8, seed: int = 0) -> torch.Tensor:
        """Smooth content (noise blurred at sigma 2 px) under a Gaussian window of sigma
        0.12 x size: inside every checked crop window (a crop throws away what lies outside it)
        and band-limited, because a crop UPsamples: bilinear zoom in then out costs 0.25 on the
        default probes' clamped edges, 0.04 at this smoothness (docs/concepts/colour-and-crop.md)."""
        noise = torch.rand(
            count, channels, size, size, generator=torch.Generator().manual_seed(seed)
        )
        smooth = gaussian_blur(noise, PROBE_SIGMA)
        smooth = smooth - smooth.mean(dim=(-2, -1), keepdim=True)
        centre = (size - 1) / 2
        yy, xx = torch.meshgrid(
            torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij"
        )
        window = torch.exp(-(yy**2 + xx**2) / (2 * (PROBE_WINDOW * size) ** 2))
        return 4 * smooth * window  # zero background: nothing outside the window to lose

    # ----------------------------------------------------------------- layers
    def check_paper_settings(self, rotation_conv: str) -> None:
        raise ValueError(f"group.kind={self.kind!r} is built for encoder.architecture='small' only")

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        return small_crop_encoder(self.spec, layout)

    # ----------------------------------------------------------------- A-SSL views
    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        """Zoom in by ``a_j`` about ``c + t``: affine_about_center's scale a_j and shift ``-a_j t``."""
        scales = torch.tensor(self.scales).to(elements.device, non_blocking=True)
        zoom = scales[elements[:, 0]] / scales[0]
        shift = -zoom[:, None] * self.shifts.pixels(elements[:, 1:], max_shift)  # (x, y) px
        return dataclasses.replace(view, scale=zoom, shift=shift)

    # ----------------------------------------------------------------- names
    short_name_format: ClassVar[str] = "S{self.scale_count}xT"
    describe_format: ClassVar[str] = "crop (scale x translation), {self.scale_count} scales"
    distance_format: ClassVar[str] = (
        "(zoom steps, cells) differ by <= {distance:g} on the product grid"
    )
