"""Hue x crop: C_N hue shifts x (scale x translation) crops, the SimCLR pair as one group.

It composes as a DIRECT product because a hue shift is one linear map per pixel and a crop
only moves pixels, so the two commute: ``T_(k, c) = R_k Crop_c = Crop_c R_k``. The encoder is
the hue input lift (``groups/hue/encoder.py``) wrapped around the crop encoder
(``groups/crop/encoder.py``): ``f(x)(h, s) = CropEnc(R_-h x)(s)``, so

    f(R_k Crop_c x)(h, .) = CropEnc(Crop_c R_(k-h) x) = Γ^crop_c f(x)(h - k, .),

the hue roll composed with the crop action, and its error is the crop's (the hue part adds
float round-off). Index grid ``(k, s, row, col)``, flattened hue-major on the lifted group
axis. The pair sampler takes one ``cyclic`` flag per grid, so the hue axis is read here as
NOT wrapping (pairs across the wrap, e.g. hue 0 with hue N-1, are not drawn): the one thing
the product loses. The cost is N x |scales| passes of the network.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from structured_ssl.groups.base import ViewAffine
from structured_ssl.groups.crop.action import CropAction
from structured_ssl.groups.crop.plugin import CELL_PIXELS, Crop, crop_checked, small_crop_encoder
from structured_ssl.groups.hue.colour import hue_rotate_each
from structured_ssl.groups.hue.encoder import HueAction, HueLiftedEncoder
from structured_ssl.groups.hue.plugin import (
    check_mixing_layers,
    check_three_channels,
)
from structured_ssl.groups.kit import SmallLayout
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import Element

#: hue x scales passes of the network per image: the hue order is kept small.
MAX_PRODUCT_ORDER = 8


class HueCrop(Crop):
    """C_N hue x crops; elements ``(k, j, dy, dx)``."""

    kind = "hue_crop"
    uses_order: ClassVar[bool] = True
    max_order: ClassVar[int] = MAX_PRODUCT_ORDER
    OPTIONS: ClassVar[dict[str, Any]] = {"mixing_layers": 1}

    def validate(self) -> None:
        super().validate()
        check_mixing_layers(self.options["mixing_layers"])

    @property
    def size(self) -> int:
        return self.order * self.scale_count

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...] | None:
        if spatial_side is None:
            return None
        return (self.order, self.scale_count, spatial_side, spatial_side)

    def exact_input_elements(self) -> list[Element]:
        crops = [(0, 0, 0), *crop_checked(self.scale_count)]
        return [(k, *c) for k in range(min(self.order, 2)) for c in crops]

    def checked_elements(self) -> list[Element]:
        return [g for g in self.exact_input_elements() if any(g)]

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z.unflatten(2, (self.order, -1))  # (B, C, N, S, H', W'); fewer S where compared

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> HueAction:
        return HueAction(self.order, CropAction(self.spec, CELL_PIXELS), self.scale_count)

    def check_channels(self, in_channels: int) -> None:
        check_three_channels(self.kind, in_channels)

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        crop = small_crop_encoder(self.spec, layout)
        return HueLiftedEncoder(
            crop,
            self.spec,
            crop.out_channels,
            self.order,
            self.options["mixing_layers"],
            inner_action=crop.action,
            inner_size=self.scale_count,
        )  # its fiber map is the action's: (B, C, N, S, H', W')

    # ----------------------------------------------------------------- A-SSL views
    def augmentation_grid(self, max_shift: int) -> tuple[tuple[int, ...], bool]:
        side = self.shifts.side(max_shift)
        return (self.order, self.scale_count, side, side), False

    def view_colour(self, x: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
        return hue_rotate_each(x, elements[:, 0], self.order)

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        return super().view_affine(elements[:, 1:], jitter, max_shift, view)  # the crop's part

    # ----------------------------------------------------------------- names
    short_name_format: ClassVar[str] = "H{self.order}xS{self.scale_count}xT"
    describe_format: ClassVar[str] = "hue order {self.order} x crop ({self.scale_count} scales)"
    distance_format: ClassVar[str] = (
        "(hue steps, zoom steps, cells) differ by <= {distance:g} on the product grid"
    )
