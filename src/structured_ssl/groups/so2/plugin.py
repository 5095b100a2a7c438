"""SO(2), continuous rotations: escnn band-limited fields, fibers read at any angle.

The lifted map's group axis holds each field's Fourier coefficients up to the band limit L
(``2L + 1`` of them, ``groups/so2/layers.py``), so the "index grid" is the circle itself: a fiber
position is an angle in radians, a pair's topographic distance is the arc between its two
angles (``pairs.max_distance`` in radians), and a bundle is ``g0_size`` angles spaced by
``bundle_spacing``. The pair draws live in ``pairs.py`` and their read-out in
``positions.py`` (this package): a continuous read-out is a Fourier series, not an index gather; the
plug-in declares ``fiber_positions = "angle"`` and the methods look that reader up
(``methods/positions.py``). The hybrid objective and the structure-free twin are not supported.

Options (``group.options``): ``max_frequency`` L (3), ``grid_samples`` N of the Fourier ReLU
(16), ``bundle_spacing`` in radians (pi / 4).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from structured_ssl.groups.base import GroupPlugin, ViewAffine
from structured_ssl.groups.kit import SmallLayout
from structured_ssl.groups.rotation.plugin import check_rotation_image_size
from structured_ssl.lifted.bounds import EXACT, EquivarianceBound
from structured_ssl.lifted.contract import Element

if TYPE_CHECKING:
    import torch

    from structured_ssl.lifted.base import LiftedEncoder

#: Angles (radians) the check command measures besides the quarter turns: none is a multiple
#: of 90 degrees, so the input rotation interpolates.
ARBITRARY_ANGLES: tuple[float, ...] = (0.3, 1.0, 2.5)


def _angle_element(angle: float) -> Element:
    """SO(2)'s element ``(angle,)`` in radians. The shared `Element` alias is the discrete
    groups' index tuple; SO(2)'s encoder and bound read the one entry as a float angle."""
    return cast(Element, (angle,))


@dataclass(frozen=True)
class AngleBound(EquivarianceBound):
    """Two promises in one: quarter turns are pixel permutations (`EXACT`); other angles
    err by the input's bilinear interpolation (``max_error``), stated on
    [`SO2.probe_images`][structured_ssl.groups.so2.plugin.SO2.probe_images] (smooth content:
    rotating it and back loses 2-3.5%; the fiber errors measured at init are 1.3-2.5% at 29 px and
    2-5% at 21 px, about that interpolation loss)."""

    def for_element(self, element: tuple[float, ...]) -> EquivarianceBound:
        turns = float(element[0]) / (math.pi / 2)
        return (
            EXACT
            if abs(turns - round(turns)) < 1e-9
            else EquivarianceBound(self.max_error, self.max_baseline_fraction, self.why)
        )

    def describe(self) -> str:
        return f"quarter turns {EXACT.describe()}, other angles <= {self.max_error:g}"


SO2_BOUND = AngleBound(
    0.06, None, "quarter turns permute pixels; other angles interpolate the input"
)


class SO2(GroupPlugin):
    """Continuous rotations with band limit L (see the module docstring)."""

    kind = "so2"
    OPTIONS: ClassVar[dict[str, Any]] = {
        "max_frequency": 3,
        "grid_samples": 16,
        "bundle_spacing": math.pi / 4,
    }
    fiber_positions: ClassVar[str] = "angle"

    def validate(self) -> None:
        super().validate()
        L, n = self.options["max_frequency"], self.options["grid_samples"]
        if not isinstance(L, int) or L < 1:
            raise ValueError(
                f"group.options.max_frequency={L!r}: the band limit L must be an integer >= 1"
            )
        if not isinstance(n, int) or n % 4 or n <= 2 * L:
            raise ValueError(
                f"group.options.grid_samples={n!r}: must be a multiple of 4 (exact quarter turns) and > 2 x "
                f"max_frequency = {2 * L} (resolves the band-limited fields)"
            )
        spacing = self.options["bundle_spacing"]
        if not isinstance(spacing, (int, float)) or not 0 < spacing <= math.pi:
            raise ValueError(f"group.options.bundle_spacing={spacing!r}: radians in (0, pi]")

    @property
    def max_frequency(self) -> int:
        return int(self.options["max_frequency"])

    @property
    def size(self) -> int:
        return 2 * self.max_frequency + 1

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...] | None:
        """The coefficient axis (2L + 1): what ``fiber_map`` returns. H-SSL's positions are angles
        (``pairs.py``); this grid only sizes the bundle checks (g0_size <= 2L)."""
        return (self.size,)

    def exact_input_elements(self) -> list[Element]:
        return [_angle_element(q * math.pi / 2) for q in range(4)]

    def probe_only_elements(self) -> list[Element]:
        """Angles the ``check`` command adds on
        [`probe_images`][structured_ssl.groups.so2.plugin.SO2.probe_images] (smooth content): their
        bound is an interpolation bound, which sharp training images (what the online monitor sees)
        do not meet; the monitor checks the exact quarter turns."""
        return [_angle_element(a) for a in ARBITRARY_ANGLES]

    def equivariance_bound(self) -> EquivarianceBound:
        return SO2_BOUND

    def probe_images(self, channels: int, size: int, count: int = 8, seed: int = 0) -> torch.Tensor:
        """What the bound is stated on: smooth (3 px blur) content under a centred window, so that
        rotating it keeps it on the canvas and bilinear interpolation is the only loss."""
        from structured_ssl.groups.so2.layers import smooth_probe_images  # escnn, when used

        return (
            smooth_probe_images(count, size, sigma=3.0, seed=seed)
            .expand(-1, channels, -1, -1)
            .contiguous()
        )

    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> Any:
        raise ValueError(
            "group.kind='so2' has no structure-free twin here (encoder.structured: false is not supported)"
        )

    small_widths: ClassVar[tuple[int, ...]] = (8, 16, 32)

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        from structured_ssl.groups.so2.layers import SO2Encoder  # escnn, when built

        grid_samples = int(self.options["grid_samples"])
        return SO2Encoder(
            layout.in_channels, self.spec, layout.layers, self.max_frequency, grid_samples
        )

    def check_paper_settings(self, rotation_conv: str) -> None:
        raise ValueError(
            "group.kind='so2' is built for encoder.architecture='small' only (no paper backbone layers)"
        )

    def check_image_size(self, spec: Any, image_size: int) -> None:
        check_rotation_image_size(self.kind, spec, image_size)  # quarter turns: the sizes C_N needs

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        """On the element grid (2L + 1 steps round the circle) plus a uniform jitter within one step:
        a continuous uniform rotation, as one warp (A-SSL itself draws angles: positions.py)."""
        step = 360.0 / self.size
        within = jitter.to(elements.device, non_blocking=True) if jitter is not None else 0.0
        return dataclasses.replace(view, angle=-(elements[:, -1].float() + within) * step)

    short_name_format: ClassVar[str] = "SO2L{self.max_frequency}"
    describe_format: ClassVar[str] = "so2 band limit {self.max_frequency}"
    distance_format: ClassVar[str] = "rotations differ by <= {degrees:g} deg"

    def degrees_for_distance(self, distance: float) -> float:
        return math.degrees(distance)
