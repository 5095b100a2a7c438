"""How equivariant an encoder promises to be: the bound is part of the encoder's contract.

escnn modules carry ``check_equivariance``; ours carry an :class:`EquivarianceBound` that the
``check`` command, the tests and the online monitor all read, so the promise is stated once.
Errors are relative, ``‖f(T_g x) − Γ_g f(x)‖ / ‖Γ_g f(x)‖``, measured on the FIBER map that
the pair sampler reads (space-pooled for group axes, spatial cells for translation).

Kept free of imports from the rest of the package so every encoder module can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Rotations and flips by multiples of 90 degrees, and shifts by whole cells, permute pixels
#: exactly; what is left is float32 round-off through a few layers.
EXACT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class EquivarianceBound:
    """The largest fiber-map error an encoder allows, and how far below "no shift" it must be.

    Args:
        max_error: the relative error must not exceed this.
        max_baseline_fraction: the error must also be at most this share of the error of
            claiming NO action at all (``f(T_g x)`` against ``f(x)``): a claimed action that
            explains the moved output worse than doing nothing is no action. None: not checked.
        why: one line for tables and warnings (where the bound comes from).
    """

    max_error: float
    max_baseline_fraction: float | None = None
    why: str = ""

    def holds(self, error: float, baseline: float) -> bool:
        if not error <= self.max_error:  # also False for NaN
            return False
        if (
            self.max_baseline_fraction is not None
            and not error <= self.max_baseline_fraction * baseline
        ):
            return False
        return True

    def for_element(self, element: tuple[float, ...]) -> EquivarianceBound:
        """The bound stated for one element (default: this one for all; SO(2) states two)."""
        return self

    def describe(self) -> str:
        text = f"<= {self.max_error:g}"
        if self.max_baseline_fraction is not None:
            text += f" and <= {self.max_baseline_fraction:g} x no-shift"
        return text


EXACT = EquivarianceBound(EXACT_TOLERANCE, None, "exact elements permute pixels")
SCALE = EquivarianceBound(0.10, 0.25, "zooms interpolate: discretisation and boundary effects")
