"""The scale group: discrete scales on a non-wrapping axis, SESN-style convolutions.

Index grid ``(s,)`` over ``scales``. T_j zooms the image out by ``scales[j] / scales[0]``; Γ_j
moves scale axes and zooms maps (``encoders/scale_action.py`` has the derivation). Fibers are
area-normalised means over space, and the scale encoders subtract the empty canvas' response
(``without_background``). Zooms interpolate, so the bound is the looser
``structured_ssl.lifted.bounds.SCALE``, stated for zooms by one and two scale steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from structured_ssl.groups.base import Element, GroupPlugin

if TYPE_CHECKING:
    import torch
    from torch import nn

    from structured_ssl.encoders.base import LiftedEncoder
    from structured_ssl.lifted.bounds import EquivarianceBound

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
    def action(self, in_channels: int, out_channels: int) -> Any:
        from structured_ssl.encoders.scale_action import ScaleAction

        return ScaleAction(self.spec)

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        from structured_ssl.encoders.scale_action import ScaleAction  # area-normalised

        return ScaleAction(self.spec).pool(z)

    def measured_fibers(self, encoder, z, moved, moved_part, expected_part, g):
        """Fibers are area-normalised means over space and Γ_g acts on them directly: a zoom-out
        changes the area, so pooling a masked lifted map would not be what H-SSL reads."""
        from structured_ssl.encoders.equivariance_scale import scale_action_of

        action = scale_action_of(encoder)
        fibers, moved_fibers = action.pool(z), action.comparable_fibers(action.pool(moved), g)
        return moved_fibers, action.transform_fibers(fibers, g), action.comparable_fibers(fibers, g)

    def equivariance_bound(self) -> EquivarianceBound:
        from structured_ssl.lifted.bounds import SCALE

        return SCALE

    # ----------------------------------------------------------------- layers
    def build_whole_encoder(self, spec, in_channels: int, image_size: int) -> LiftedEncoder | None:
        """The default scale encoder lifts its INPUT: one plain network (the architecture's
        translation form) on the image zoomed to each scale (``encoders/scale_pyramid.py``);
        ``encoder.scale_lifting: sesn`` takes the SESN layer route instead."""
        if (spec.scale_lifting or "input") != "input":
            return None
        import dataclasses

        from structured_ssl.encoders.scale_pyramid import InputLiftedScaleEncoder

        plain = dataclasses.replace(self.spec, kind="translation", options=None)  # plain convs
        if spec.architecture == "small":
            from structured_ssl.encoders.cnn import conv_stack
            from structured_ssl.encoders.factory import SMALL_KERNELS, SMALL_STRIDES

            widths = tuple(spec.widths or self.small_widths)
            net = conv_stack(in_channels, widths, spec.kernel_sizes or SMALL_KERNELS, SMALL_STRIDES)
            return InputLiftedScaleEncoder(net, self.spec, widths[-1])
        from structured_ssl.encoders.paper import RESNETS, PaperEncoder, resnet

        if spec.architecture == "paper_mnist":
            return InputLiftedScaleEncoder(
                PaperEncoder(in_channels, plain, "paper_mnist", padding_mode="zeros").net,
                self.spec,
                128,
            )
        layout = RESNETS[spec.architecture]
        return InputLiftedScaleEncoder(
            resnet(plain, in_channels, layout), self.spec, layout.widths[-1]
        )

    def twin_action(self, spec, in_channels: int, out_channels: int) -> Any:
        from structured_ssl.encoders.scale_action import ScaleAction

        return ScaleAction(self.spec, maps_zoom=(spec.scale_lifting or "input") != "input")

    def build_small(self, in_channels, widths, padding_mode, kernels, strides) -> LiftedEncoder:
        from structured_ssl.encoders.scale import ScaleEncoder

        return ScaleEncoder(
            in_channels, self.spec, widths=widths
        )  # kernels sized to its largest scale

    def paper_conv(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        lifting,
        effective_size,
        rotation_conv,
        padding_mode,
    ) -> nn.Module:
        from structured_ssl.encoders.scale_conv import ScaleConv, ScaleLift

        cls = ScaleLift if lifting else ScaleConv
        return cls(
            in_channels,
            out_channels,
            kernel_size,
            min(effective_size, kernel_size),
            self.scales,
            stride=stride,
            padding=kernel_size // 2,
        )

    def paper_lift(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        from structured_ssl.encoders.scale_action import without_background  # empty canvas -> 0

        return without_background(net, x)

    # ----------------------------------------------------------------- A-SSL views
    def view_affine(self, elements, jitter, max_shift, angle, scale, flip, shift):
        import torch

        scales = torch.tensor(self.scales).to(elements.device, non_blocking=True)
        return angle, scales[0] / scales[elements[:, 0]], flip, shift

    @property
    def short_name(self) -> str:
        return f"S{self.size}"

    def distance_meaning(self, distance: float) -> str:
        reach = self.scales[min(int(distance), len(self.scales) - 1)] / self.scales[0]
        return f"scale ratio between views <= {reach:.2f} (downscale >= {1 / reach:.2f})"
