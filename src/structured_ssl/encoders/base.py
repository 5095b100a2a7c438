"""What every encoder promises: a lifted feature map with an explicit group axis.

Layout, everywhere in this project: ``(batch, channels, group, height, width)``.

* rotation C_N / dihedral D_N / scale: ``group`` is |G|, the fibers are the group-axis
  entries (after spatial average pooling, as in the paper);
* translation: ``group`` is 1 and the fibers are the spatial cells;
* unstructured twins: the same shape, but the group axis is fake (channels split into
  |G| chunks), so nothing moves it consistently.

Each encoder also says how the group acts on its input (``transform_input``, T_g) and on its
output (``transform_output``, Γ_g). Tests and the online equivariance metric both use these,
so an encoder checks itself the way escnn's modules do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

import torch
from torch import nn

from structured_ssl.lifted.bounds import EquivarianceBound

if TYPE_CHECKING:
    from structured_ssl.groups import Group  # a type only: the groups import the encoders

Element = tuple[int, ...]


def check_lifted(z: torch.Tensor, where: str) -> torch.Tensor:
    """Assert the lifted layout at a module boundary, with a message that says where."""
    if z.dim() != 5:
        raise ValueError(
            f"{where}: expected a lifted tensor (B, C, G, H, W), got shape {tuple(z.shape)}"
        )
    return z


def check_layer_lengths(widths, kernel_sizes, strides) -> None:
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


class LiftedEncoder(nn.Module):
    """Base class: images ``(B, C_in, H, W)`` -> lifted features ``(B, C, G, H', W')``.

    Subclasses set ``out_channels`` (C per fiber), ``group`` and ``structured`` (False for the
    fake-fiber twins), and implement ``lift``.
    """

    group: Group
    out_channels: int
    structured: bool = True

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return check_lifted(self.lift(x), type(self).__name__)

    # ----------------------------------------------------------------- pooling
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
        """The map the fiber sampler reads: ``(B, C, *grid)``.

        Group-axis encoders average space away (``(B, C, G)``; dihedral ``(B, C, 2, N)``;
        scale weights scale s by ``(scales[0] / scales[s])^2`` so that a zoom-out moves fibers
        along the scale axis without changing them); translation keeps the spatial cells.
        """
        action = getattr(self, "action", None) or getattr(self, "claimed_action", None)
        pool = getattr(action, "pool", None)  # an action with its own fiber pooling (scale) decides
        return pool(z) if pool is not None else self.group.plugin.fiber_map(z)

    def fiber_grid_cyclic(self) -> bool:
        return self.group.grid_cyclic

    @property
    def cell_pixels(self) -> int:
        """Input pixels per step on the fiber grid (1: fibers on a group axis)."""
        return 1

    def measured_fibers(self, z, moved, moved_part, expected_part, g):
        """(moved, expected, unmoved) fiber maps the equivariance check compares."""
        return self.group.plugin.measured_fibers(self, z, moved, moved_part, expected_part, g)

    # ----------------------------------------------------------------- group actions
    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor:
        """T_g x for an element of ``group.exact_input_elements()``."""
        raise NotImplementedError

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """Γ_g z: how the lifted map should move when the input moves by T_g."""
        raise NotImplementedError

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor:
        """The part of a lifted map on which Γ_g is defined (all of it, except on the
        non-cyclic scale axis); equivariance checks compare only this part."""
        return z

    def equivariance_bound(self) -> EquivarianceBound | None:
        """The fiber-map error this encoder promises on ``structured_ssl.encoders.equivariance``'s
        checked elements; None for the structure-free twins, which promise nothing."""
        if not self.structured:
            return None
        return self.group.plugin.equivariance_bound()

    def num_parameters(self) -> int:
        """Trainable parameters of the backbone (the classification read-out not counted)."""
        return sum(
            p.numel()
            for name, p in self.named_parameters()
            if p.requires_grad and not name.startswith("readout.")
        )


class GroupAction(Protocol):
    """T_g on images and Γ_g on lifted maps, for the exact elements of a group."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor: ...

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor: ...


def group_action(group: Group, in_channels: int, out_channels: int) -> GroupAction:
    """The action a structured encoder of ``group`` has; unstructured twins claim it too."""
    return group.plugin.action(in_channels, out_channels)
