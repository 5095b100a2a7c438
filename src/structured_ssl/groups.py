"""One group description, read three ways.

The same :class:`Group` value tells the encoder factory which equivariant layers to build,
the augmentation builder which input transforms make A-SSL's views, and the fiber sampler
which fibers may pair. One config block, three users: that is what keeps the comparison
between augmentation SSL and structured SSL fair.

Group elements are integer index tuples on the group's *index grid* (the paper's
"topographic" layout): ``(k,)`` for C_N rotations (angle 360 k / N), ``(f, k)`` for D_N
(flip f then rotation k), ``(s,)`` for the s-th scale, ``(dy, dx)`` for translations by
whole feature-map cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

GroupKind = Literal["rotation", "dihedral", "translation", "scale"]
GROUP_KINDS: tuple[str, ...] = ("rotation", "dihedral", "translation", "scale")
PAPER_SCALES: tuple[float, ...] = (1.0, 1.25, 1.33, 1.5, 1.66, 1.75)


@dataclass(frozen=True)
class Group:
    """A discrete group with an index grid.

    Args:
        kind: rotation (C_N), dihedral (D_N), translation (Z^2 on the feature grid) or scale.
        order: N for rotation/dihedral (D_N has 2N elements); ignored for translation
            (its fibers are the spatial cells of the last feature map) and for scale
            (``len(scales)`` is its order).
        scales: the discrete scales of the scale group (its order is their count).
        continuous_augmentation: A-SSL draws continuous angles (True) instead of multiples
            of 360/N (False). Only rotation/dihedral read it.
    """

    kind: GroupKind = "rotation"
    order: int = 8
    scales: tuple[float, ...] = PAPER_SCALES
    continuous_augmentation: bool = False

    def __post_init__(self) -> None:
        if self.kind not in GROUP_KINDS:
            raise ValueError(
                f"group.kind={self.kind!r} is not a known group; expected one of {list(GROUP_KINDS)}"
            )
        if self.kind in ("rotation", "dihedral") and self.order < 2:
            raise ValueError(f"group.order={self.order} is too small; a {self.kind} group needs order >= 2")
        if self.kind == "scale":
            if len(self.scales) < 2:
                raise ValueError(f"group.scales={list(self.scales)} must list at least 2 scales")
            if any(s <= 0 for s in self.scales) or list(self.scales) != sorted(self.scales):
                raise ValueError(f"group.scales={list(self.scales)} must be positive and increasing")
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))

    # ----------------------------------------------------------------- the index grid
    @property
    def has_group_axis(self) -> bool:
        """True when fibers live on the lifted group axis; False when they are spatial cells."""
        return self.kind != "translation"

    @property
    def size(self) -> int:
        """|G| on the group axis (1 for translation, whose fibers are spatial)."""
        if self.kind == "rotation":
            return self.order
        if self.kind == "dihedral":
            return 2 * self.order
        if self.kind == "scale":
            return len(self.scales)
        return 1

    @property
    def grid_cyclic(self) -> bool:
        """Whether moving along the index grid wraps around (rotations do, scales do not)."""
        return self.kind in ("rotation", "dihedral")

    @property
    def short_name(self) -> str:
        """C8, D4, T, S6: used in run names."""
        return {"rotation": f"C{self.order}", "dihedral": f"D{self.order}", "translation": "T", "scale": f"S{self.size}"}[
            self.kind
        ]

    def rotation_degrees(self, k: int) -> float:
        return 360.0 * k / self.order

    def exact_input_elements(self) -> list[tuple[int, ...]]:
        """Group elements whose input transform is exact on a square pixel grid.

        Rotations by multiples of 90 degrees and flips permute pixels exactly; these are the
        elements the equivariance tests and the equivariance metric use.
        """
        if self.kind == "rotation":
            return [(k,) for k in range(self.order) if (4 * k) % self.order == 0]
        if self.kind == "dihedral":
            return [(f, k) for f in (0, 1) for k in range(self.order) if (4 * k) % self.order == 0]
        if self.kind == "translation":
            return [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        return [(s,) for s in range(self.size)]


def max_topographic_distance(grid: tuple[int, ...], cyclic: bool) -> float:
    """Largest Euclidean distance between two cells of an index grid (cyclic: half-way round)."""
    spans = [(n // 2 if cyclic else n - 1) for n in grid]
    return math.sqrt(sum(s * s for s in spans))
