"""The scale group: discrete scales on a non-wrapping axis, SESN-style convolutions.

Index grid ``(s,)`` over ``scales``. T_j zooms the image out by ``scales[j] / scales[0]``; Γ_j
moves scale axes and zooms maps (``groups/scale/action.py`` has the derivation). Fibers are
area-normalised means over space, and the scale encoders subtract the empty canvas' response
(``without_background``). Zooms interpolate, so the bound is the looser
``structured_ssl.lifted.bounds.SCALE``, stated for zooms by one and two scale steps.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from structured_ssl.groups.base import GroupPlugin, ViewAffine
from structured_ssl.groups.kit import ConvShape, LayerKit, LayerOptions, SmallLayout
from structured_ssl.groups.scale.action import ScaleAction, without_background
from structured_ssl.groups.scale.conv import ScaleConv, ScaleLift
from structured_ssl.groups.scale.layers import ScaleEncoder
from structured_ssl.groups.scale.pyramid import InputLiftedScaleEncoder
from structured_ssl.lifted.bounds import SCALE, EquivarianceBound
from structured_ssl.lifted.contract import Element

if TYPE_CHECKING:
    from structured_ssl.lifted.base import LiftedEncoder

#: the zooms (in scale steps) a scale bound is stated for.
SCALE_STEPS = (1, 2)


class Scale(GroupPlugin):
    """Discrete scales (the paper's 1, 1.25, 1.33, 1.5, 1.66, 1.75 by default)."""

    kind = "scale"
    grid_cyclic: ClassVar[bool] = False
    # (16, 32, 32), not (8, 16, 32): with the equivariant basis (Hermite orders 3/2/2) the
    # narrower net has 2.7k parameters (its twin cannot shrink below 3.9k), and 8 lifting channels
    # let a random init miss the scale bound in 15-30% of seeds (docs/concepts/bounds.md, "Scale equivariance")
    small_widths: ClassVar[tuple[int, ...]] = (16, 32, 32)
    #: scale: Hermite orders (3, 2, 2), not the paper's (11, 3, 3), which measured fiber errors
    #: 0.12-0.22 against 0.025-0.039 (benchmarks/scale_design_sweep.py)
    paper_mnist_effective_sizes: ClassVar[tuple[int, int, int]] = (3, 2, 2)

    def validate(self) -> None:
        super().validate()
        if len(self.scales) < 2:
            raise ValueError(f"group.scales={list(self.scales)} must list at least 2 scales")
        if any(s <= 0 for s in self.scales) or list(self.scales) != sorted(self.scales):
            raise ValueError(f"group.scales={list(self.scales)} must be positive and increasing")

    @property
    def size(self) -> int:
        return len(self.scales)

    def exact_input_elements(self) -> list[Element]:
        return [(s,) for s in range(self.size)]

    def checked_elements(self) -> list[Element]:
        return [g for g in super().checked_elements() if g[0] in SCALE_STEPS]

    # ----------------------------------------------------------------- T_g, Γ_g, fibers
    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> ScaleAction:
        return ScaleAction(self.spec)

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return ScaleAction(self.spec).pool(z)  # area-normalised

    def equivariance_bound(self) -> EquivarianceBound:
        return SCALE

    # ----------------------------------------------------------------- layers
    def layer_kit(self, options: LayerOptions) -> LayerKit:
        """The kit of [`GroupPlugin.layer_kit`][structured_ssl.groups.base.GroupPlugin.layer_kit],
        with the action the twins claim following
        the lifting: an input-lifted encoder's maps do not zoom (``ScaleAction.maps_zoom``)."""
        kit = super().layer_kit(options)
        maps_zoom = options.scale_lifting != "input"
        return dataclasses.replace(
            kit, action=lambda i, o, c: ScaleAction(self.spec, maps_zoom=maps_zoom)
        )

    def input_lift(self, options: LayerOptions) -> Any:
        """The default scale encoder lifts its INPUT: one plain network (the architecture's
        translation form, built by the architecture) on the image zoomed to each scale
        (``pyramid.py``); ``encoder.scale_lifting: sesn`` takes the SESN layer route instead."""
        if options.scale_lifting != "input":
            return None
        return lambda net, out_channels: InputLiftedScaleEncoder(net, self.spec, out_channels)

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        # kernels sized to its largest scale
        return ScaleEncoder(layout.in_channels, self.spec, widths=layout.widths)

    def paper_conv(self, options: LayerOptions, shape: ConvShape) -> nn.Module:
        cls = ScaleLift if shape.lifting else ScaleConv
        return cls(
            shape.in_channels,
            shape.out_channels,
            shape.kernel_size,
            min(shape.effective_size, shape.kernel_size),
            self.scales,
            stride=shape.stride,
            padding=shape.kernel_size // 2,
        )

    def paper_lift(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return without_background(net, x)  # empty canvas -> 0

    # ----------------------------------------------------------------- A-SSL views
    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        scales = torch.tensor(self.scales).to(elements.device, non_blocking=True)
        return dataclasses.replace(view, scale=scales[0] / scales[elements[:, 0]])

    short_name_format: ClassVar[str] = "S{self.size}"

    def distance_meaning(self, distance: float) -> str:
        reach = self.scales[min(int(distance), len(self.scales) - 1)] / self.scales[0]
        return f"scale ratio between views <= {reach:.2f} (downscale >= {1 / reach:.2f})"
