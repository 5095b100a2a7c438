"""Measure ``f(T_g x) = Γ_g f(x)`` where H-SSL reads it, against the encoder's stated bound.

One function, :func:`measure`, serves the ``check`` command, the tests and the online
monitor. Per group element it reports three relative errors, each averaged over images:

* ``lifted``: on the whole lifted map ``(B, C, G, H, W)`` (what escnn's own check compares);
* ``fiber``: on the fiber map the pair sampler reads (space-pooled for group axes, spatial
  cells for translation): the number H-SSL's "free augmentation" depends on;
* ``baseline``: the fiber error of claiming NO action (``f(T_g x)`` against ``f(x)``). A claimed
  action must explain the moved output far better than that, or the pairs are noise.

All three use the part of the map on which Γ_g is defined (the encoder's ``comparable``). The
encoder is read only through the contract (``structured_ssl.lifted.contract``), so a
researcher's own encoder is measured the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from structured_ssl.lifted.bounds import EquivarianceBound
from structured_ssl.lifted.contract import Element, EquivariantEncoder
from structured_ssl.lifted.modes import eval_mode


@dataclass(frozen=True)
class ElementError:
    """The three errors for one group element (see the module docstring)."""

    element: tuple[float, ...]  # the element's indices (SO(2): its angle in radians)
    lifted: float
    fiber: float
    baseline: float

    def within(self, bound: EquivarianceBound | None) -> bool:
        if bound is None:
            return True
        return bound.for_element(self.element).holds(self.fiber, self.baseline)


def checked_elements(encoder: EquivariantEncoder) -> list[Element]:
    """The non-identity elements a bound is stated for: every exact element, and for scale
    the zooms by one and two scale steps."""
    return encoder.group.checked_elements()


def _relative(moved: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    moved, expected = moved.flatten(1).double(), expected.flatten(1).double()
    return (moved - expected).norm(dim=1) / expected.norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def measure(
    encoder: EquivariantEncoder, x: torch.Tensor, elements: Sequence[Element] | None = None
) -> list[ElementError]:
    """Lifted, fiber and no-shift errors per element, in eval mode (no batch-norm updates)."""
    chosen = list(elements) if elements is not None else checked_elements(encoder)
    if not chosen:
        raise ValueError(f"group {encoder.group} has no non-identity exact elements to check")
    rows = []
    with eval_mode(encoder):  # type: ignore[arg-type]  # an nn.Module by the contract
        z = encoder(x)
        for g in chosen:
            moved = encoder(encoder.transform_input(x, g))
            expected = encoder.transform_output(z, g)
            moved_part, expected_part = (
                encoder.comparable(moved, g),
                encoder.comparable(expected, g),
            )
            # group axes and space pool the comparable parts; scale's action reads
            # area-normalised fibers and moves them directly (a zoom-out changes the area)
            fibers_moved, fibers_expected, fibers_unmoved = encoder.measured_fibers(
                z, moved, moved_part, expected_part, g
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


def worst(rows: Sequence[ElementError]) -> ElementError:
    """The row furthest from its bound's limit (largest fiber error)."""
    return max(rows, key=lambda r: r.fiber)
