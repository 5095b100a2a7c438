"""Translation x rotation, the product group: fibers on space x C_N of ONE lifted map.

Elements are ``(k, dy, dx)``: rotate by 360 k / N, then shift by (dy, dx) feature cells. The
encoder (``groups/roto_translation/layers.py``) is an escnn C_N CNN with circular padding on a
canvas whose side is a multiple of its stride, so the fiber grid ``N x H' x W'`` is a torus x
circle: cyclic on every axis, one Euclidean topographic distance over all three (cyclic), a
bundle a ``g0 x g0 x g0`` patch of orientations and cells. Γ_g is the spatial roll composed
with the rotation (of the cell torus about its half and of the C_N axis).

A-SSL's views rotate each image about its centre by k steps and shift it by whole cells (s px),
at most ``floor(max_shift_fraction x image / s)`` cells per axis (at least one); the two views'
elements are drawn with the same distance rule on that product grid. On the centred canvas this
warp is exactly T_g for content away from the border (kornia warps quarter turns to ~2e-6).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from structured_ssl.groups.kit import SmallLayout
from structured_ssl.groups.translation.cells import CellProduct, CellShifts
from structured_ssl.lifted.contract import Element

if TYPE_CHECKING:
    import torch

    from structured_ssl.groups.base import ViewAffine
    from structured_ssl.lifted.base import LiftedEncoder

#: The small encoder's total stride (strides 1, 2, 2): one feature cell is this many pixels.
CELL_PIXELS = 4


class RotoTranslation(CellProduct):
    """Z^2 (whole cells, on a torus) x C_N."""

    kind = "roto_translation"
    uses_order: ClassVar[bool] = True
    has_group_axis: ClassVar[bool] = (
        False  # fibers keep space: the config checks size the grid from the image
    )
    grid_cyclic: ClassVar[bool] = True
    shifts: ClassVar[CellShifts] = CellShifts(CELL_PIXELS)
    small_widths: ClassVar[tuple[int, ...]] = (8, 16, 32)

    @property
    def size(self) -> int:
        return self.order

    def exact_input_elements(self) -> list[Element]:
        turns = [k for k in range(self.order) if (4 * k) % self.order == 0]
        return [(k, dy, dx) for k in turns for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> Any:
        raise ValueError(
            "group.kind='roto_translation' has no structure-free twin here (encoder.structured: false is not supported)"
        )

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        if padding_mode != "circular":
            raise ValueError(
                f"encoder.padding_mode={padding_mode!r}: group.kind='roto_translation' needs 'circular' "
                "(the canvas is a torus; zero padding breaks the exact shifts and quarter turns)"
            )
        from structured_ssl.groups.roto_translation.layers import RotoTranslationEncoder  # escnn

        return RotoTranslationEncoder(layout.in_channels, self.spec, layout.layers)

    def check_paper_settings(self, rotation_conv: str) -> None:
        raise ValueError(
            "group.kind='roto_translation' is built for encoder.architecture='small' only"
        )

    def check_image_size(self, spec: Any, image_size: int) -> None:
        if spec.structured and image_size % 2 == 0:
            raise ValueError(
                f"data.image_size={image_size}: group.kind='roto_translation' needs an odd image size (its centre "
                f"pixel becomes the torus's rotation centre), e.g. {image_size + 1}"
            )

    # ----------------------------------------------------------------- A-SSL views
    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        k = elements[:, 0].float()
        angle = -k * 360.0 / self.order  # kornia's y-down frame: escnn's counter-clockwise
        return dataclasses.replace(
            view, angle=angle, shift=self.shifts.pixels(elements[:, 1:], max_shift)
        )

    short_name_format: ClassVar[str] = "TxC{self.order}"
    describe_format: ClassVar[str] = "translation x rotation order {self.order}"
    distance_format: ClassVar[str] = (
        "(rotation steps, cells) differ by <= {distance:g} on the product grid"
    )
