"""D_N, rotations and a horizontal flip: the index grid ``(f, k)`` (flip f, then rotation k).

The lifted group axis holds the 2N elements flip-major, so the fiber map is ``(2, N)``: a
bundle runs along the rotations within one flip half (``1 x g0_size``), and A-SSL draws
``(f, k)`` on the same 2 x N cyclic grid.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from structured_ssl.groups.rotation.plugin import RotationFamily
from structured_ssl.lifted.contract import Element

if TYPE_CHECKING:
    import torch

    from structured_ssl.groups.base import ViewAffine


class Dihedral(RotationFamily):
    """D_N: 2N elements (N rotations, with or without a flip)."""

    kind = "dihedral"

    @property
    def size(self) -> int:
        return 2 * self.order

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...]:
        return (2, self.order)

    @classmethod
    def bundle_shape(cls, g0_size: int, ndim: int) -> tuple[int, ...]:
        return (1, g0_size)

    def exact_input_elements(self) -> list[Element]:
        return [(f, k) for f in (0, 1) for k in range(self.order) if (4 * k) % self.order == 0]

    def fiber_map(self, z):
        return z.mean(dim=(-2, -1)).unflatten(2, (2, self.order))

    def gspace(self) -> Any:
        from structured_ssl.groups.rotation.layers import dihedral_gspace  # escnn, when built

        return dihedral_gspace(self.order)

    def escnn_element(self, gspace: Any, g: Element) -> Any:
        f, k = g
        return gspace.fibergroup.element((f % 2, k % self.order))

    def augmentation_grid(self, max_shift: int) -> tuple[tuple[int, ...], bool]:
        return (2, self.order), True

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        rotated = super().view_affine(elements, jitter, max_shift, view)
        return dataclasses.replace(rotated, flip=elements[:, 0].float())

    short_name_format: ClassVar[str] = "D{self.order}"
