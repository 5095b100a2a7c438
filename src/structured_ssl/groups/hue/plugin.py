"""The hue group C_N: N hue shifts acting exactly on RGB images (``colour.py`` says how).

Index grid ``(k,)``, cyclic. T_k rotates every pixel's colour by ``360 k / N`` degrees about
the grey axis; the encoder lifts its INPUT by the N shifts with one shared network
(``encoder.py``), so Γ_k is a roll of the group axis and the bound is float round-off, whatever
the weights. Fibers are the hue-axis entries averaged over space (as rotation's). A-SSL's
views are ``T_g x`` for elements drawn on the same grid: hue-rotated images, no warp.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from structured_ssl.groups.base import GroupPlugin, ViewAffine
from structured_ssl.groups.hue.colour import hue_rotate_each
from structured_ssl.groups.hue.encoder import HueAction, HueLiftedEncoder
from structured_ssl.groups.kit import LayerOptions
from structured_ssl.lifted.bounds import EXACT, EquivarianceBound
from structured_ssl.lifted.contract import Element

#: the lift runs the network once per hue: beyond this the cost, not the memory, is the limit.
MAX_HUE_ORDER = 12
#: group convolutions along the hue axis after the lift (``group.options.mixing_layers``).
MAX_MIXING_LAYERS = 4


def check_three_channels(kind: str, in_channels: int) -> None:
    if in_channels != 3:
        raise ValueError(
            f"data channels={in_channels}: group.kind={kind!r} shifts hue, which needs RGB "
            "(3-channel) images; use a colour data set (e.g. configs/datasets/colour_digits.yaml)"
        )


def check_mixing_layers(layers: Any) -> None:
    """``group.options.mixing_layers``: 0 to MAX_MIXING_LAYERS group convolutions along the hue
    axis after the lift (hue and hue x crop read it), or one line naming the value."""
    if (
        isinstance(layers, bool)
        or not isinstance(layers, int)
        or not 0 <= layers <= MAX_MIXING_LAYERS
    ):
        raise ValueError(
            f"group.options.mixing_layers={layers!r}: expected an integer from 0 to "
            f"{MAX_MIXING_LAYERS} (group convolutions along the hue axis after the lift)"
        )


class Hue(GroupPlugin):
    """C_N hue rotations about the grey axis of RGB."""

    kind = "hue"
    uses_order: ClassVar[bool] = True
    max_order: ClassVar[int] = MAX_HUE_ORDER
    OPTIONS: ClassVar[dict[str, Any]] = {"mixing_layers": 1}
    geometric_views: ClassVar[bool] = False
    small_widths: ClassVar[tuple[int, ...]] = (16, 32, 32)

    def validate(self) -> None:
        super().validate()
        check_mixing_layers(self.options["mixing_layers"])

    @property
    def size(self) -> int:
        return self.order

    def exact_input_elements(self) -> list[Element]:
        return [(k,) for k in range(self.order)]  # one orthogonal matrix each

    def check_channels(self, in_channels: int) -> None:
        check_three_channels(self.kind, in_channels)

    # ----------------------------------------------------------------- T_g, Γ_g
    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> HueAction:
        return HueAction(self.order)

    def equivariance_bound(self) -> EquivarianceBound:
        return EXACT  # float round-off of R_-h R_k against R_-(h-k): ~1e-7 (tests)

    # ----------------------------------------------------------------- layers
    def input_lift(self, options: LayerOptions) -> Any:
        """The hue encoder lifts its INPUT: the architecture's plain network (built by the
        architecture, ``small`` or a paper backbone) on the N hue-shifted images."""
        return lambda net, out_channels: HueLiftedEncoder(
            net, self.spec, out_channels, self.order, self.options["mixing_layers"]
        )

    # ----------------------------------------------------------------- A-SSL views
    def view_colour(self, x: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
        return hue_rotate_each(x, elements[:, 0], self.order)

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        return view  # no geometry: the colour part is all of T_g

    # ----------------------------------------------------------------- names
    short_name_format: ClassVar[str] = "H{self.order}"
    describe_format: ClassVar[str] = "hue order {self.order}"

    def distance_meaning(self, distance: float) -> str:
        return f"hue differs by <= {distance * 360 / self.order:g} degrees between views"
