"""A test-only group plug-in: the flip group Z2 (identity and a horizontal mirror).

It shows the contract of ``structured_ssl.groups.base``: a discrete group whose layers exist
(escnn's ``flip2dOnR2`` gspace, the regular-field layers of ``encoders/rotation.py``) is this
one file plus one config file (``tests/flip_group.yaml``), with no change anywhere in ``src``.
Importing it registers ``kind: flip``; ``tests/test_flip_group.py`` imports it inside a fixture
and unregisters it afterwards, so other tests never see it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from structured_ssl.groups import Element, GroupPlugin


class Flip(GroupPlugin):
    """Z2: the identity and the mirror about the vertical axis; the index grid is ``(f,)``."""

    kind = "flip"
    grid_cyclic: ClassVar[bool] = True

    @property
    def size(self) -> int:
        return 2

    def exact_input_elements(self) -> list[Element]:
        return [(0,), (1,)]  # a mirror permutes pixels: exact

    def gspace(self) -> Any:
        from structured_ssl.encoders.escnn_compat import gspaces

        return gspaces.flip2dOnR2()  # the same mirror axis as the dihedral group's flip

    def escnn_element(self, gspace: Any, g: Element) -> Any:
        return gspace.fibergroup.element(g[0] % 2)

    def action(self, in_channels: int, out_channels: int) -> Any:
        from structured_ssl.encoders.rotation import RegularFieldAction

        return RegularFieldAction(self.spec, in_channels, out_channels)

    def build_small(self, in_channels, widths, padding_mode, kernels, strides) -> Any:
        # the regular-field layers work on any escnn gspace
        from structured_ssl.encoders.rotation import RotationEncoder

        return RotationEncoder(in_channels, self.spec, widths, kernels, strides)

    def view_affine(self, elements, jitter, max_shift, angle, scale, flip, shift):
        return angle, scale, elements[:, -1].float(), shift  # A-SSL: mirror the view when f = 1

    @property
    def short_name(self) -> str:
        return "F2"
