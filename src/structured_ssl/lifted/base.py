"""The base of every shipped encoder: a lifted feature map with an explicit group axis.

Layout, everywhere in this project: ``(batch, channels, group, height, width)``
(``lifted/contract.py`` states what each axis is per group). A :class:`LiftedEncoder` carries
its group action as one declared member, :attr:`LiftedEncoder.action`: T_g on inputs, Γ_g on
lifted maps, the comparable part and the fiber map. A structure-free twin carries the action
of the encoder it stands in for (``structured = False``): it claims it, and the equivariance
check shows the claim is false. Tests and the online monitor read these members, so an
encoder checks itself the way escnn's modules do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from structured_ssl.lifted.bounds import EquivarianceBound
from structured_ssl.lifted.contract import Element, FiberTriple, GroupAction

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group  # a type only: groups sit above this layer


def check_lifted(z: torch.Tensor, where: str) -> torch.Tensor:
    """Assert the lifted layout at a module boundary, with a message that says where."""
    if z.dim() != 5:
        raise ValueError(
            f"{where}: expected a lifted tensor (B, C, G, H, W), got shape {tuple(z.shape)}"
        )
    return z


def check_layer_lengths(
    widths: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int]
) -> None:
    """One width, kernel size and stride per layer, or a one-line error naming all three."""
    if not (len(widths) == len(kernel_sizes) == len(strides)):
        raise ValueError(
            f"encoder widths={list(widths)}, kernel_sizes={list(kernel_sizes)} and "
            f"strides={list(strides)} must have the same length"
        )


def pool_invariant(z: torch.Tensor) -> torch.Tensor:
    """``(B, C)``: max over the group axis, then mean over space (the ``pool`` read-out; the
    paper's read-outs with parameters live in :mod:`structured_ssl.encoders.readout`)."""
    return z.amax(dim=2).mean(dim=(-2, -1))


class OwnTransforms:
    """The action of an encoder that states T_g and Γ_g as its own methods (a researcher's
    ``LiftedEncoder`` subclass): the encoder's transforms, the whole map comparable, and the
    group's fiber map (group axes averaged over space; translation: the spatial cells)."""

    def __init__(self, encoder: LiftedEncoder) -> None:
        self.encoder = encoder

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        if type(self.encoder).transform_input is LiftedEncoder.transform_input:
            raise NotImplementedError(
                f"{type(self.encoder).__name__} sets no action and states no transform_input"
            )
        return self.encoder.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        if type(self.encoder).transform_output is LiftedEncoder.transform_output:
            raise NotImplementedError(
                f"{type(self.encoder).__name__} sets no action and states no transform_output"
            )
        return self.encoder.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        return z

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder.group.plugin.fiber_map(z)

    def measured_fibers(
        self,
        z: torch.Tensor,
        moved: torch.Tensor,
        moved_part: torch.Tensor,
        expected_part: torch.Tensor,
        g: Element,
    ) -> FiberTriple:
        fibers = self.encoder.fiber_map
        return (
            fibers(moved_part),
            fibers(expected_part),
            fibers(self.encoder.comparable(z, g)),
        )


class LiftedEncoder(nn.Module):
    """Base class: images ``(B, C_in, H, W)`` -> lifted features ``(B, C, G, H', W')``.

    Subclasses set ``out_channels`` (C per fiber), ``group``, ``action`` (the group action
    they have, or as a twin claim) and ``structured`` (False for the fake-fiber twins), and
    implement ``lift``. Every member of the encoder contract
    (:class:`~structured_ssl.lifted.contract.EquivariantEncoder`) is defined here.
    """

    group: Group
    out_channels: int
    structured: bool = True

    @property
    def action(self) -> GroupAction:
        """T_g / Γ_g / comparable part / fiber map: the encoder's own, or (twin) the one it
        claims. A subclass that sets none and states ``transform_input`` / ``transform_output``
        itself gets :class:`OwnTransforms` (the group's fiber map, its own transforms)."""
        own = self.__dict__.get("_action")  # set through the setter below
        return own if own is not None else OwnTransforms(self)

    @action.setter
    def action(self, value: GroupAction) -> None:
        self.__dict__["_action"] = value

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return check_lifted(self.lift(x), type(self).__name__)

    # ----------------------------------------------------------------- read-outs
    def invariant(self, z: torch.Tensor) -> torch.Tensor:
        """Invariant embedding ``(B, D)`` that probes, kNN and linear evaluation read.

        The encoder's ``readout`` module when it has one (the paper's per-backbone read-outs,
        ``encoders/readout.py``), else max over the group axis then mean over space.
        """
        readout = self._modules.get("readout")  # set by build_encoder (EncoderSpec.readout)
        return readout(z) if readout is not None else pool_invariant(z)

    @property
    def invariant_dim(self) -> int:
        """Width D of :meth:`invariant` (the probe's input)."""
        readout = self._modules.get("readout")
        if readout is None:
            return self.out_channels
        return int(cast(int, readout.out_dim))  # an attribute of the read-out modules

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """The map the fiber sampler reads, ``(B, C, *grid)``: the action's (group axes average
        space away, dihedral ``(B, C, 2, N)``, scale area-weighted; translation keeps the cells)."""
        return self.action.fiber_map(z)

    def fiber_grid_cyclic(self) -> bool:
        return self.group.grid_cyclic

    @property
    def cell_pixels(self) -> int:
        """Input pixels per step on the fiber grid (1: fibers on a group axis)."""
        return 1

    # ----------------------------------------------------------------- group actions
    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        """T_g x for an element of ``group.exact_input_elements()``."""
        return self.action.transform_input(x, g)

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_g z: how the lifted map should move when the input moves by T_g."""
        return self.action.transform_output(z, g)

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The part of a lifted map on which Γ_g is defined (all of it, except on the
        non-cyclic scale axis); equivariance checks compare only this part."""
        return self.action.comparable(z, g)

    def measured_fibers(
        self,
        z: torch.Tensor,
        moved: torch.Tensor,
        moved_part: torch.Tensor,
        expected_part: torch.Tensor,
        g: Element,
    ) -> FiberTriple:
        """(moved, expected, unmoved) fiber maps the equivariance check compares."""
        return self.action.measured_fibers(z, moved, moved_part, expected_part, g)

    def equivariance_bound(self) -> EquivarianceBound | None:
        """The fiber-map error this encoder promises on ``structured_ssl.encoders.equivariance``'s
        checked elements; None for the structure-free twins, which promise nothing."""
        if not self.structured:
            return None
        return self.group.equivariance_bound()

    def num_parameters(self) -> int:
        """Trainable parameters of the backbone (the classification read-out not counted)."""
        return sum(
            p.numel()
            for name, p in self.named_parameters()
            if p.requires_grad and not name.startswith("readout.")
        )
