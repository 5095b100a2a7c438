"""Measure ``f(T_g x) = Γ_g f(x)`` where H-SSL reads it, against the encoder's stated bound.

One function, :func:`measure`, serves the ``check`` command, the tests and the online
monitor. Per group element it reports three relative errors, each averaged over images:

* ``lifted``: on the whole lifted map ``(B, C, G, H, W)`` (what escnn's own check compares);
* ``fiber``: on the fiber map the pair sampler reads (space-pooled for group axes, spatial
  cells for translation): the number H-SSL's "free augmentation" depends on;
* ``baseline``: the fiber error of claiming NO action (``f(T_g x)`` against ``f(x)``). A claimed
  action must explain the moved output far better than that, or the pairs are noise.

All three use the part of the map on which Γ_g is defined (``LiftedEncoder.comparable``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from structured_ssl.encoders.base import Element, LiftedEncoder
from structured_ssl.lifted.bounds import EquivarianceBound
from structured_ssl.lifted.modes import eval_mode


@dataclass(frozen=True)
class ElementError:
    """The three errors for one group element (see the module docstring)."""

    element: tuple[float, ...]  # the element's indices (SO(2): its angle in radians)
    lifted: float
    fiber: float
    baseline: float

    def within(self, bound: EquivarianceBound | None) -> bool:
        if bound is not None and hasattr(
            bound, "for_element"
        ):  # a bound stated per element (SO(2))
            bound = bound.for_element(self.element)
        return bound is None or bound.holds(self.fiber, self.baseline)


def checked_elements(encoder: LiftedEncoder) -> list[Element]:
    """The non-identity elements a bound is stated for: every exact element, and for scale
    the zooms by one and two scale steps."""
    return encoder.group.plugin.checked_elements()


def _relative(moved: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    moved, expected = moved.flatten(1).double(), expected.flatten(1).double()
    return (moved - expected).norm(dim=1) / expected.norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def measure(
    encoder: LiftedEncoder, x: torch.Tensor, elements: Sequence[Element] | None = None
) -> list[ElementError]:
    """Lifted, fiber and no-shift errors per element, in eval mode (no batch-norm updates)."""
    chosen = list(elements) if elements is not None else checked_elements(encoder)
    if not chosen:
        raise ValueError(f"group {encoder.group} has no non-identity exact elements to check")
    rows = []
    with eval_mode(encoder):
        z = encoder(x)
        for g in chosen:
            moved = encoder(encoder.transform_input(x, g))
            expected = encoder.transform_output(z, g)
            moved_part, expected_part = (
                encoder.comparable(moved, g),
                encoder.comparable(expected, g),
            )
            fibers_moved, fibers_expected, fibers_unmoved = _fibers(
                encoder, z, moved, moved_part, expected_part, g
            )
            rows.append(
                ElementError(
                    element=tuple(float(v) if isinstance(v, float) else int(v) for v in g),
                    lifted=float(_relative(moved_part, expected_part).mean()),
                    fiber=float(_relative(fibers_moved, fibers_expected).mean()),
                    baseline=float(_relative(fibers_moved, fibers_unmoved).mean()),
                )
            )
    return rows


def _fibers(encoder, z, moved, moved_part, expected_part, g):
    """(moved, expected, unmoved) fiber maps on the part Γ_g defines.

    Group axes and space: pool the comparable part of the lifted maps. Scale: the fibers are
    area-normalised means over space and Γ_g acts on them directly (``ScaleAction.pool``):
    a zoom-out changes the area, so pooling a masked lifted map would not be what H-SSL reads.
    """
    return encoder.group.plugin.measured_fibers(encoder, z, moved, moved_part, expected_part, g)


def worst(rows: Sequence[ElementError]) -> ElementError:
    """The row furthest from its bound's limit (largest fiber error)."""
    return max(rows, key=lambda r: r.fiber)


def probe_images(channels: int, size: int, count: int = 8, seed: int = 0) -> torch.Tensor:
    """Smooth random images whose content stays inside a centred disk (radius 0.3 x size).

    Content away from the border is what the bounds are stated for: rotations keep it on the
    canvas, zooms out keep it inside the footprint, and shifts never carry it across an edge.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(count, channels, size, size, generator=generator)
    sigma = max(1.0, size / 16)
    radius = int(math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    smooth = F.conv2d(noise.flatten(0, 1)[:, None], kernel.view(1, 1, 1, -1), padding=(0, radius))
    smooth = F.conv2d(smooth, kernel.view(1, 1, -1, 1), padding=(radius, 0)).view_as(noise)
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    disk = ((yy**2 + xx**2).sqrt() <= 0.3 * size).float()
    images = (smooth - smooth.mean(dim=(-2, -1), keepdim=True)) * 8 + 0.5
    return images.clamp(0, 1) * disk
