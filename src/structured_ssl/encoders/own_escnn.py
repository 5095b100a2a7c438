"""Your own escnn network as an encoder: its field types ARE the lifted layout.

A researcher with an ``escnn.nn.EquivariantModule`` of their own (an ``R2Conv`` stack on
``rot2dOnR2(N)`` or ``flipRot2dOnR2(N)``) already has everything H-SSL needs: escnn knows
how the group acts on the input type (T_g) and on the output type (Γ_g). This adapter only
reads the module's types:

* the input type must be trivial fields (image channels);
* the output type must be regular fields: each of its C fields carries |G| channels, one per
  group element, so escnn's ``(B, C |G|, H, W)`` is the lifted ``(B, C, |G|, H, W)``;
* the gspace names the group: C_N -> ``Group(kind="rotation", order=N)``, D_N ->
  ``Group(kind="dihedral", order=N)``.

T_g and Γ_g are escnn's own ``GeometricTensor.transform`` on these types (the group's
regular-field action), so the check measures the user's network, not a re-statement of it.
Anything else (irreducible output fields, another gspace) is refused in one line naming the
member and what is allowed.
"""

from __future__ import annotations

from typing import Any

import torch

from structured_ssl.groups import Group
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.escnn_compat import enn, escnn_groups


def group_of_gspace(gspace: Any) -> Group:
    """The library's [`Group`][structured_ssl.groups.spec.Group] for an escnn 2D gspace (C_N or D_N
    acting on the plane)."""
    fiber = gspace.fibergroup
    if isinstance(fiber, escnn_groups.CyclicGroup):
        return Group(kind="rotation", order=int(fiber.order()))
    if isinstance(fiber, escnn_groups.DihedralGroup):
        return Group(kind="dihedral", order=int(fiber.order()) // 2)
    raise ValueError(
        f"encoder.in_type.gspace={gspace!r}: an escnn encoder here acts by rot2dOnR2(N) (C_N) or "
        "flipRot2dOnR2(N) (D_N)"
    )


def _check_types(module: Any) -> tuple[Any, Any, int]:
    """(in_type, out_type, channels per fiber), or one line naming what is wrong."""
    in_type, out_type = module.in_type, module.out_type
    gspace = in_type.gspace
    wrong_in = [r.name for r in in_type.representations if r.name != gspace.trivial_repr.name]
    if wrong_in:
        raise ValueError(
            f"encoder.in_type has {wrong_in[0]!r} fields; an image is trivial fields "
            "(gspace.trivial_repr, one per channel)"
        )
    regular = gspace.regular_repr.name
    wrong_out = [r.name for r in out_type.representations if r.name != regular]
    if wrong_out:
        raise ValueError(
            f"encoder.out_type has {wrong_out[0]!r} fields; the lifted layout needs regular "
            f"fields ({regular!r}, gspace.regular_repr): one channel per group element"
        )
    return in_type, out_type, len(out_type.representations)


class EscnnEncoder(LiftedEncoder):
    """An encoder around the user's escnn module (input: trivial fields, output: regular fields).

    Args:
        module: an ``escnn.nn.EquivariantModule`` (e.g. ``enn.SequentialModule`` of ``R2Conv``,
            ``InnerBatchNorm``, ``ReLU``) mapping images to regular fields.
        structured: False declares it a structure-free network (no bound is promised).
    """

    def __init__(self, module: enn.EquivariantModule, structured: bool = True) -> None:
        super().__init__()
        if not isinstance(module, enn.EquivariantModule):
            raise ValueError(
                f"encoder.module={type(module).__name__}: expected an escnn.nn.EquivariantModule"
            )
        self.in_type, self.out_type, self.out_channels = _check_types(module)
        self.gspace = self.in_type.gspace
        self.group = group_of_gspace(self.gspace)
        self.structured = structured
        self.module = module
        # the group's own escnn action on the same field types (regular fields of this gspace):
        # escnn's ``transform``, with the group's fiber grid (D_N: flip x rotation)
        self.action = self.group.layer_kit().action(self.in_type.size, self.out_channels, 1)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(enn.GeometricTensor(x, self.in_type)).tensor
        return y.unflatten(1, (self.out_channels, self.group.size))
