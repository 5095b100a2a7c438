"""The encoder contract: everything the rest of the library reads of an encoder and its action.

Methods (H-SSL, A-SSL, the hybrid, Frozen, Supervised), the classification read-outs, the
callbacks, the ``check`` command and the online equivariance monitor read an encoder ONLY
through the members below; nothing probes an encoder or an action with ``getattr`` /
``hasattr`` (``tests/lifted/test_encoder_contract.py`` greps ``src`` for it). Every shipped encoder
(``structured_ssl.lifted.base.LiftedEncoder`` and its subclasses) satisfies
[`EquivariantEncoder`][structured_ssl.lifted.contract.EquivariantEncoder]; a researcher's own module
satisfies it by having these members, and
[`check_encoder`][structured_ssl.lifted.contract.check_encoder] says in one line which one is
missing or wrong, before training.

**The lifted layout.** ``encoder(x)`` maps images ``(B, C_in, H, W)`` to a lifted map
``(B, C, G, H', W')``: ``C`` = `out_channels` channels per fiber,
``G`` = ``group.size`` entries on the group axis (|G| for C_N / D_N / scales, 1 for
translation, whose fibers are the spatial cells, ``2L + 1`` Fourier coefficients for SO(2),
N orientations for roto-translation), and the last feature map's ``H' x W'`` cells.

**Members of an encoder**
([`EquivariantEncoder`][structured_ssl.lifted.contract.EquivariantEncoder]):

* ``group`` -- the [`Group`][structured_ssl.groups.spec.Group] it is built for (the same value the
  augmentation and the pair sampler read); it must equal the model's ``group``.
* ``out_channels`` -- C, the channels of one fiber (``int >= 1``).
* ``structured`` -- True when the encoder IS equivariant under its action; False for the
  structure-free twins, which only *claim* it (the check then shows the claim is false).
* ``cell_pixels`` -- how many input pixels one step on the fiber grid is: the total stride
  for encoders whose fibers are spatial cells (translation, roto-translation), else 1. A-SSL
  moves its translation views by whole cells of this many pixels.
* ``forward(x)`` -- the lifted map above.
* ``fiber_map(z)`` -- ``(B, C, *grid)``: the map the pair sampler reads fibers of (group axes:
  space averaged away, dihedral ``(B, C, 2, N)``, scale area-weighted; translation: the
  spatial cells ``(B, C, H', W')``; SO(2): the space-pooled Fourier coefficients).
* ``fiber_grid_cyclic()`` -- whether moving along that grid wraps (rotations) or not (scales).
* ``invariant(z)`` / ``invariant_dim`` -- the group-invariant embedding ``(B, D)`` that the
  probe, kNN and linear evaluation read, and its width D.
* ``transform_input(x, g)`` -- T_g on images, for ``g`` in ``group.exact_input_elements()``
  (and, SO(2), any angle ``(phi,)`` in radians).
* ``transform_output(z, g)`` -- Γ_g on lifted maps: how ``encoder(x)`` must move when the
  input moves by T_g.
* ``comparable(z, g)`` -- the part of a lifted map on which Γ_g is defined (all of it except
  on the non-cyclic scale axis); equivariance checks compare only this part.
* ``measured_fibers(maps)`` -- the (moved, expected, unmoved) fiber maps the equivariance
  check compares (``encoders/equivariance.py``), from one
  [`MovedMaps`][structured_ssl.lifted.contract.MovedMaps].
* ``equivariance_bound()`` -- the fiber-map error the encoder promises on the checked
  elements ([`EquivarianceBound`][structured_ssl.lifted.bounds.EquivarianceBound]), None for a twin.

An encoder whose fibers sit at angles (``group.plugin.fiber_positions == "angle"``, SO(2))
also has ``max_frequency`` ([`AngleEncoder`][structured_ssl.lifted.contract.AngleEncoder]): its band
limit L, which the angle pair reader evaluates the Fourier series with.

**Members of an action** ([`GroupAction`][structured_ssl.lifted.contract.GroupAction]): a structured
encoder's T_g / Γ_g, and the action a structure-free twin claims (``LiftedEncoder.action``):
``transform_input``, ``transform_output``, ``comparable``, ``fiber_map`` and ``measured_fibers``
with the meanings above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import nn

from structured_ssl.lifted.bounds import EquivarianceBound
from structured_ssl.lifted.modes import eval_mode

if TYPE_CHECKING:
    from structured_ssl.groups.spec import Group  # a type only: groups sit above this layer

#: A group element: an index tuple on the group's index grid (SO(2): ``(angle,)`` in radians).
Element = tuple[int, ...]
FiberTriple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class MovedMaps:
    """What one equivariance check of element ``g`` computed, handed to ``measured_fibers`` as
    one object: ``z = encoder(x)``, ``moved = encoder(T_g x)``, and the comparable parts of
    ``moved`` and of ``Γ_g z`` (``moved_part``, ``expected_part``)."""

    z: torch.Tensor
    moved: torch.Tensor
    moved_part: torch.Tensor
    expected_part: torch.Tensor
    g: Element

    def pooled(
        self,
        fiber_map: Callable[[torch.Tensor], torch.Tensor],
        comparable: Callable[[torch.Tensor, Element], torch.Tensor],
    ) -> FiberTriple:
        """(moved, expected, unmoved) fiber maps of the comparable parts: what every action
        but scale's (which moves area-normalised fibers directly) compares."""
        return (
            fiber_map(self.moved_part),
            fiber_map(self.expected_part),
            fiber_map(comparable(self.z, self.g)),
        )


@runtime_checkable
class GroupAction(Protocol):
    """T_g on images and Γ_g on lifted maps, and where the fibers are read (module docstring)."""

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor: ...

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor: ...

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor: ...

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor: ...

    def measured_fibers(self, maps: MovedMaps) -> FiberTriple: ...


@runtime_checkable
class EquivariantEncoder(Protocol):
    """What every caller reads of an encoder (each member's meaning: the module docstring)."""

    group: Group
    out_channels: int
    structured: bool

    @property
    def cell_pixels(self) -> int: ...

    @property
    def invariant_dim(self) -> int: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor: ...

    def fiber_grid_cyclic(self) -> bool: ...

    def invariant(self, z: torch.Tensor) -> torch.Tensor: ...

    def transform_input(self, x: torch.Tensor, g: Element) -> torch.Tensor: ...

    def transform_output(self, z: torch.Tensor, g: Element) -> torch.Tensor: ...

    def comparable(self, z: torch.Tensor, g: Element) -> torch.Tensor: ...

    def measured_fibers(self, maps: MovedMaps) -> FiberTriple: ...

    def equivariance_bound(self) -> EquivarianceBound | None: ...


@runtime_checkable
class AngleEncoder(EquivariantEncoder, Protocol):
    """An encoder whose fibers sit at angles (SO(2)): its band limit L as well."""

    max_frequency: int


#: the members [`check_encoder`][structured_ssl.lifted.contract.check_encoder] requires, in the
#: order it names a missing one.
ATTRIBUTES: tuple[str, ...] = (
    "group",
    "out_channels",
    "structured",
    "cell_pixels",
    "invariant_dim",
)
METHODS: tuple[str, ...] = (
    "forward",
    "fiber_map",
    "fiber_grid_cyclic",
    "invariant",
    "transform_input",
    "transform_output",
    "comparable",
    "measured_fibers",
    "equivariance_bound",
)


class EncoderContractError(ValueError):
    """A module that does not satisfy
    [`EquivariantEncoder`][structured_ssl.lifted.contract.EquivariantEncoder] (one line naming the
    member)."""


_MISSING = object()


def _lookup(module: object, name: str) -> object:
    """``name`` as stored on ``module`` or its classes, unresolved (a property or method object
    stays one): the check must not run the member it looks for."""
    if name in vars(module):
        return vars(module)[name]
    for cls in type(module).__mro__:
        if name in vars(cls):
            return vars(cls)[name]
    return _MISSING


def check_encoder(
    module: object,
    group: Group | None = None,
    in_channels: int | None = None,
    image_size: int | None = None,
) -> None:
    """Raise [`EncoderContractError`][structured_ssl.lifted.contract.EncoderContractError] (one
    line) unless ``module`` satisfies the contract.

    With ``group`` the encoder's group must equal it; with ``in_channels`` and ``image_size``
    one zero image goes through it (eval mode, no gradients) and the lifted layout, the fiber
    map and the invariant width are checked against the declared members.
    """
    name = type(module).__name__
    if not isinstance(module, nn.Module):
        raise EncoderContractError(f"encoder {name}: expected a torch.nn.Module")
    for member in (*ATTRIBUTES, *METHODS):
        found = _lookup(module, member)
        if found is _MISSING:
            raise EncoderContractError(
                f"encoder {name} has no {member!r}: the encoder contract "
                "(structured_ssl.lifted.contract) needs " + ", ".join((*ATTRIBUTES, *METHODS))
            )
        if member in METHODS and not callable(found):
            raise EncoderContractError(
                f"encoder {name}.{member} is {type(found).__name__}, not a method"
            )
    encoder: EquivariantEncoder = module  # type: ignore[assignment]  # checked member by member
    for member, value in (
        ("out_channels", encoder.out_channels),
        ("cell_pixels", encoder.cell_pixels),
        ("invariant_dim", encoder.invariant_dim),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EncoderContractError(
                f"encoder {name}.{member}={value!r}: expected an integer >= 1"
            )
    if not isinstance(encoder.structured, bool):
        raise EncoderContractError(
            f"encoder {name}.structured={encoder.structured!r}: expected True or False"
        )
    if group is not None and encoder.group != group:
        raise EncoderContractError(
            f"encoder {name}.group={encoder.group!r} differs from the model's group={group!r}"
        )
    if in_channels is not None and image_size is not None:
        _check_shapes(encoder, name, in_channels, image_size)


def _check_shapes(
    encoder: EquivariantEncoder, name: str, in_channels: int, image_size: int
) -> None:
    x = torch.zeros(1, in_channels, image_size, image_size)
    try:
        with torch.no_grad(), eval_mode(encoder):  # type: ignore[arg-type]  # an nn.Module
            z = encoder(x)
            if not isinstance(z, torch.Tensor) or z.dim() != 5:
                shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise EncoderContractError(
                    f"encoder {name}: forward gave {shape}; expected a lifted map (B, C, G, H, W)"
                )
            expected = (encoder.out_channels, encoder.group.size)
            if tuple(z.shape[1:3]) != expected:
                raise EncoderContractError(
                    f"encoder {name}: forward gave (C, G) = {tuple(z.shape[1:3])}; expected "
                    f"(out_channels, group.size) = {expected}"
                )
            fibers = encoder.fiber_map(z)
            if fibers.dim() < 3 or tuple(fibers.shape[:2]) != (1, encoder.out_channels):
                raise EncoderContractError(
                    f"encoder {name}: fiber_map gave {tuple(fibers.shape)}; expected (B, C, *grid) "
                    f"with C = out_channels = {encoder.out_channels}"
                )
            width = encoder.invariant(z).shape
            if tuple(width) != (1, encoder.invariant_dim):
                raise EncoderContractError(
                    f"encoder {name}: invariant gave {tuple(width)}; expected (B, invariant_dim) = "
                    f"(1, {encoder.invariant_dim})"
                )
    except EncoderContractError:
        raise
    except (RuntimeError, ValueError, TypeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise EncoderContractError(
            f"encoder {name} failed on a {in_channels}x{image_size}x{image_size} image: {first}"
        ) from error
