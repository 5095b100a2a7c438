"""The defaults every group action shares: a group axis whose fibers are space-pooled.

A group's action (``groups/<kind>/``) subclasses :class:`LiftedAction` and states T_g and
Γ_g; it overrides :meth:`~LiftedAction.fiber_map` and :meth:`~LiftedAction.comparable` only
where its fibers are read differently (translation: the spatial cells; scale: area-weighted
means on a non-cyclic axis).
"""

from __future__ import annotations

import torch

from structured_ssl.lifted.contract import Element, FiberTriple


class LiftedAction:
    """T_g / Γ_g (abstract here), the comparable part (all of it) and the fiber map (space
    averaged away): :class:`~structured_ssl.lifted.contract.GroupAction` with defaults."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        raise NotImplementedError

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        raise NotImplementedError

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return z

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C, G, H, W)`` -> ``(B, C, G)``: space averaged away."""
        return z.mean(dim=(-2, -1))

    def measured_fibers(
        self,
        z: torch.Tensor,
        moved: torch.Tensor,
        moved_part: torch.Tensor,
        expected_part: torch.Tensor,
        g: Element,
    ) -> FiberTriple:
        """(moved, expected, unmoved) fiber maps of the comparable parts."""
        return (
            self.fiber_map(moved_part),
            self.fiber_map(expected_part),
            self.fiber_map(self.comparable(z, g)),
        )
