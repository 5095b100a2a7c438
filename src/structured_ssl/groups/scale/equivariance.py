"""Scale equivariance where H-SSL reads it: the space-pooled fibers, beside the lifted map and
the no-shift baseline. The tests, the benchmark table and any check command share this code.

For a scale encoder f, an element g = (j,) and images x (content away from the border):

* lifted error   ``||f(T_g x) - Γ_g f(x)|| / ||Γ_g f(x)||`` on the comparable scales and cells;
* fiber error    the same on the pooled fibers ``fiber_map`` (what the pair sampler reads);
* no-shift error ``||fiber(f(T_g x)) - fiber(f(x))|| / ||fiber(f(x))||`` on the SAME scales:
  how far the zoom moves the fibers at all. A fiber error well below it says the claimed
  action, not the lack of any, explains the change.

Relative errors are per image, averaged over the batch (as ``metrics.equivariance_error``).
Bounds (issue 13): fiber error <= :data:`FIBER_BOUND` and <= :data:`NO_SHIFT_FRACTION` of
the no-shift error, for one and two scale steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from structured_ssl.groups.scale.action import ScaleAction
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import Element

FIBER_BOUND = 0.10
NO_SHIFT_FRACTION = 0.25
GEOMETRIC_SPAN_SCALES = tuple(1.75 ** (i / 5) for i in range(6))
"""Six geometric scales over the paper's span 1 .. 1.75 (ratio 1.118)."""


@dataclass(frozen=True)
class ScaleErrors:
    lifted: float
    fiber: float
    no_shift: float

    @property
    def ratio(self) -> float:
        """fiber / no-shift: below :data:`NO_SHIFT_FRACTION` when the claimed action explains the change."""
        return self.fiber / max(self.no_shift, 1e-12)

    def within_bounds(
        self, bound: float = FIBER_BOUND, fraction: float = NO_SHIFT_FRACTION
    ) -> bool:
        return self.fiber <= bound and self.ratio <= fraction


def scale_action_of(encoder: LiftedEncoder) -> ScaleAction:
    """The action an encoder claims: its own (structured) or the one it stands in for (twin)."""
    action = encoder.action
    if not isinstance(action, ScaleAction):
        raise ValueError(
            f"{type(encoder).__name__} has no scale action (group.kind={encoder.group.kind!r})"
        )
    return action


def _relative(moved: torch.Tensor, expected: torch.Tensor) -> float:
    moved, expected = moved.flatten(1), expected.flatten(1)
    return float(((moved - expected).norm(dim=1) / expected.norm(dim=1).clamp_min(1e-12)).mean())


def scale_errors(
    encoder: LiftedEncoder, x: torch.Tensor, g: Element, action: ScaleAction | None = None
) -> ScaleErrors:
    """Lifted, fiber and no-shift errors of ``encoder`` for element ``g`` on images ``x``
    (eval mode, no gradients; the encoder's mode is restored). ``action`` overrides the
    claimed action (e.g. ``ScaleAction(group, uniform_shift=True)`` to measure the old claim)."""
    action = action or scale_action_of(encoder)
    if not action.scale_map(g):
        raise ValueError(
            f"element {g} has no comparable scale on scales {list(action.group.scales)}"
        )
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            z = encoder(x)
            moved = encoder(action.transform_input(x, g))
            lifted = _relative(
                action.comparable(moved, g), action.comparable(action.transform_output(z, g), g)
            )
            fibers, moved_fibers = action.pool(z), action.comparable_fibers(action.pool(moved), g)
            fiber = _relative(moved_fibers, action.transform_fibers(fibers, g))
            no_shift = _relative(moved_fibers, action.comparable_fibers(fibers, g))
    finally:
        encoder.train(was_training)
    return ScaleErrors(lifted, fiber, no_shift)


def fiber_map_error(encoder: LiftedEncoder, x: torch.Tensor, g: Element) -> float:
    return scale_errors(encoder, x, g).fiber


def no_shift_error(encoder: LiftedEncoder, x: torch.Tensor, g: Element) -> float:
    return scale_errors(encoder, x, g).no_shift


def centred_blobs(n: int, size: int, seed: int) -> torch.Tensor:
    """``(n, 1, size, size)`` smooth images: 4 signed Gaussian blobs (widths size/14 to
    size/14 + size/12) within size/5 of the centre, so zooms lose little to the border."""
    generator = torch.Generator().manual_seed(seed)
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    images = torch.zeros(n, 1, size, size)
    for i in range(n):
        for _ in range(4):
            cy, cx = ((torch.rand(2, generator=generator) - 0.5) * size / 2.5).tolist()
            width = size / 14 + torch.rand(1, generator=generator).item() * size / 12
            amplitude = torch.randn(1, generator=generator).item()
            images[i, 0] += amplitude * torch.exp(
                -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2)
            )
    return images


def centred_digits(n: int, size: int, digit_size: int) -> torch.Tensor:
    """The first ``n`` scikit-learn digits resized to ``digit_size`` and centred in ``size``
    (what ``DigitsDataModule`` feeds, before normalisation)."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    images = torch.as_tensor(load_digits().images[:n], dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=digit_size, mode="bilinear", align_corners=False)
    pad = size - digit_size
    return F.pad(images, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)).clamp(0, 1)
