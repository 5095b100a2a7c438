"""The defaults every group action shares: a group axis whose fibers are space-pooled.

A group's action (``groups/<kind>/``) subclasses
[`LiftedAction`][structured_ssl.lifted.action.LiftedAction] and states T_g and Γ_g; it overrides
[`fiber_map`][structured_ssl.lifted.action.LiftedAction.fiber_map] and `comparable` only where its
fibers are read differently (translation: the spatial cells; scale: area-weighted means on a
non-cyclic axis).
"""

from __future__ import annotations

import torch

from structured_ssl.lifted.contract import Element, FiberTriple, MovedMaps


class LiftedAction:
    """T_g / Γ_g (abstract here), the comparable part (all of it) and the fiber map (space
    averaged away): [`GroupAction`][structured_ssl.lifted.contract.GroupAction] with defaults."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        raise NotImplementedError

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        raise NotImplementedError

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return z

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C, G, H, W)`` -> ``(B, C, G)``: space averaged away."""
        return z.mean(dim=(-2, -1))

    def measured_fibers(self, maps: MovedMaps) -> FiberTriple:
        """(moved, expected, unmoved) fiber maps of the comparable parts."""
        return maps.pooled(self.fiber_map, self.comparable)
