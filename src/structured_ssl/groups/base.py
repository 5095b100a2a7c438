"""The contract of a group plug-in: everything group-specific, in one class per group.

The idea of the library is that ONE group description drives the encoder, the augmentation
and the fiber sampler. The description a config holds is [`Group`][structured_ssl.groups.spec.Group]
(plain settings: ``kind``, ``order``, ``scales``, ...); its ``kind`` names a subclass of
[`GroupPlugin`][structured_ssl.groups.base.GroupPlugin] registered here, and every caller (encoder
factory, paper layers, augmentation, pair sampler, config checks, equivariance check, grid, study,
report) asks that plug-in instead of switching on the kind. Adding a group is one new module in this
package (it is imported, and so registered, by ``structured_ssl.groups``) plus one config file.

What a plug-in states (the contract; the defaults below hold for a finite group acting on a
group axis of the lifted map and may be kept):

* its **index grid**: `size` (|G| on the lifted group axis; 1 when the fibers are
  spatial cells), `has_group_axis`, `grid_cyclic` (whether moving wraps),
  `fiber_grid_shape` (the grid the fiber sampler reads) and `bundle_shape`
  (a bundle of ``g0_size`` on it);
* its **exact elements** (`exact_input_elements`, index tuples whose input transform is
  exact on a square pixel grid) and the subset an equivariance bound is stated for
  (`checked_elements`);
* its **input transform** T_g and **action** Γ_g on the lifted map (`action`: a
  [`GroupAction`][structured_ssl.lifted.contract.GroupAction]; an exact index permutation or escnn's
  action), and how a group-axis fiber map is read off the lifted map (`fiber_map`);
* its **layers** (`layer_kit`): a [`LayerKit`][structured_ssl.groups.kit.LayerKit] the
  group-agnostic architectures of ``structured_ssl.encoders`` build from (the ``small``
  encoder, `build_small` and `small_widths`; the paper backbones' convolutions,
  `paper_conv`, `paper_conv_forward`, `paper_lift`; the action a twin claims,
  `action`), made of the layers in the group's own package ``groups/<kind>/``;
* its **equivariance bound** (`equivariance_bound`, from ``structured_ssl.lifted.bounds``);
* its **A-SSL view drawing**: the grid the two views' elements are drawn on
  (`augmentation_grid`) and one batched affine warp per view (`view_affine`: the identity
  [`ViewAffine`][structured_ssl.groups.base.ViewAffine] in, with what T_g changes, out);
* its **names**: `short_name` (run names: C8, D4, T, S6), `describe` (one line in
  summaries) and `distance_meaning` (what a topographic distance means for the views), each
  declared as a format string over the plug-in's attributes (`short_name_format`,
  `describe_format`, `distance_format`);
* its **kind of fiber position** (`fiber_positions`): ``"grid"`` (index-grid cells,
  gathered) or ``"angle"`` (radians, read by a Fourier series: SO(2)); the methods look their
  pair reader up by it, so a continuous group needs no branch in any method;
* its **escnn view** where it has one (`gspace`, `escnn_element`) and whether the
  paper's SESN filter copies build it (`rot90_copies`);
* its **check probes** ([`probe_images`][structured_ssl.lifted.probes.probe_images],
  `probe_only_elements`): the content and the extra elements the ``check`` command states the bound
  on.

Every hook a caller uses is declared here with a default; callers never probe a plug-in
with ``getattr``. A new discrete group whose layers exist (an escnn gspace, or index
permutations) is one module overriding `size`, `exact_input_elements`,
`action`, `build_small`, `view_affine` and `short_name_format`, plus one
config file (``tests/groups/flip_group.py`` is such a group, registered by its test only).

The structure-free twins are NOT part of the contract: ``encoders/factory.py`` and
``encoders/paper.py`` build them for every group from `size` and `has_group_axis`,
claiming `action`.

A group is one package ``groups/<kind>/``: this plug-in and its layers. Layers below the
groups (``structured_ssl.lifted``) are imported at module level; nothing here imports the
architectures (``structured_ssl.encoders`` sits above and receives the kit).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from structured_ssl.groups.kit import ConvShape, LayerKit, LayerOptions, SmallLayout
from structured_ssl.lifted.bounds import EXACT, EquivarianceBound
from structured_ssl.lifted.contract import Element
from structured_ssl.lifted.probes import probe_images

if TYPE_CHECKING:
    from torch import nn

    from structured_ssl.groups.spec import Group
    from structured_ssl.lifted.base import LiftedEncoder
    from structured_ssl.lifted.contract import GroupAction


@dataclass(frozen=True)
class ViewAffine:
    """Per-example parameters of one view's warp: flip (horizontal), rotate, scale about the
    centre, then shift.

    Args:
        angle: ``(B,)`` degrees (negative: escnn's counter-clockwise in kornia's y-down frame).
        scale: ``(B,)`` zoom factors (> 1 zooms in).
        flip: ``(B,)`` 1.0 mirrors the width axis, 0.0 does not.
        shift: ``(B, 2)`` pixels, (x, y).
    """

    angle: torch.Tensor
    scale: torch.Tensor
    flip: torch.Tensor
    shift: torch.Tensor

    @classmethod
    def identity(cls, batch: int, device: torch.device | str | None = None) -> ViewAffine:
        """No rotation, unit scale, no flip, no shift for ``batch`` examples."""
        return cls(
            angle=torch.zeros(batch, device=device),
            scale=torch.ones(batch, device=device),
            flip=torch.zeros(batch, device=device),
            shift=torch.zeros(batch, 2, device=device),
        )


#: kind -> plug-in class, filled by `GroupPlugin.__init_subclass__`.
GROUP_TYPES: dict[str, type[GroupPlugin]] = {}


class GroupPlugin:
    """One group: index grid, elements, T_g / Γ_g, layers, bound, names, A-SSL views.

    Subclasses set `kind` (the config's ``group.kind``; setting it registers the class)
    and, if the group reads settings beyond ``order`` / ``scales``, `OPTIONS` (name ->
    default, given in the config as ``group.options``). One instance is made per
    [`Group`][structured_ssl.groups.spec.Group] value (``group.plugin``); it is cheap and holds no
    tensors.
    """

    kind: ClassVar[str] = ""
    #: group-specific settings read from ``group.options`` (name -> default).
    OPTIONS: ClassVar[dict[str, Any]] = {}
    #: whether ``group.order`` means something for this group (it is then validated >= 2).
    uses_order: ClassVar[bool] = False
    #: the largest ``group.order`` accepted: the fiber pair table holds order^2 distances and
    #: escnn's regular fields grow with the order, so a typo such as 80000 would try to allocate
    #: tens of GB before any check of the build could speak (the paper goes up to 16).
    max_order: ClassVar[int] = 64

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            if cls.kind in GROUP_TYPES and GROUP_TYPES[cls.kind].__qualname__ != cls.__qualname__:
                raise TypeError(
                    f"group kind {cls.kind!r} is registered twice ({GROUP_TYPES[cls.kind]} and {cls})"
                )
            GROUP_TYPES[cls.kind] = cls

    def __init__(self, spec: Group) -> None:
        self.spec = spec
        self.order = spec.order
        self.scales = spec.scales
        self.options = {**self.OPTIONS, **(spec.options or {})}

    # ----------------------------------------------------------------- settings
    def validate(self) -> None:
        """Raise ValueError (one line naming ``group.<field>``) for settings this group rejects."""
        if self.uses_order and self.order < 2:
            raise ValueError(
                f"group.order={self.order} is too small; a {self.kind} group needs order >= 2"
            )
        if self.uses_order and self.order > self.max_order:
            raise ValueError(
                f"group.order={self.order} is too large: a {self.kind} group here takes an order "
                f"from 2 to {self.max_order}"
            )
        unknown = sorted(set(self.spec.options or {}) - set(self.OPTIONS))
        if unknown:
            allowed = ", ".join(self.OPTIONS) or "none"
            raise ValueError(
                f"group.options.{unknown[0]}: the {self.kind} group accepts options: {allowed}"
            )

    # ----------------------------------------------------------------- the index grid
    has_group_axis: ClassVar[bool] = True
    grid_cyclic: ClassVar[bool] = True

    @property
    def size(self) -> int:
        """|G| on the lifted group axis (1 when fibers are spatial cells)."""
        raise NotImplementedError

    def fiber_grid_shape(self, spatial_side: int | None) -> tuple[int, ...] | None:
        """The index grid the fiber sampler reads; ``spatial_side`` is the last map's side
        (None when unknown from settings alone: then None for spatial grids)."""
        return (self.size,)

    @classmethod
    def bundle_shape(cls, g0_size: int, ndim: int) -> tuple[int, ...]:
        """A bundle of ``g0_size`` on a grid of ``ndim`` axes (default: ``g0_size`` along the one axis)."""
        return (g0_size,) * ndim

    def exact_input_elements(self) -> list[Element]:
        """Elements whose input transform is exact on a square pixel grid (identity included)."""
        raise NotImplementedError

    def checked_elements(self) -> list[Element]:
        """The non-identity elements the equivariance bound is stated for."""
        return [g for g in self.exact_input_elements() if any(g)]

    # ----------------------------------------------------------------- T_g, Γ_g, fibers
    def action(self, in_channels: int, out_channels: int, cell_pixels: int = 1) -> GroupAction:
        """T_g on images and Γ_g on lifted maps of an encoder with these widths (a twin claims
        it); ``cell_pixels``: a fiber cell's pixel size where fibers are spatial cells."""
        raise ValueError(f"group.kind={self.kind!r} has no group axis to act on")

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, C, G, H, W)`` -> ``(B, C, *grid)``: default averages space away."""
        return z.mean(dim=(-2, -1))

    def equivariance_bound(self) -> EquivarianceBound:
        return EXACT

    def probe_images(self, channels: int, size: int, count: int = 8, seed: int = 0) -> torch.Tensor:
        """The content the ``check`` command measures on (default: smooth images inside a centred
        disk, ``lifted/probes.py``); a group whose bound needs other content overrides it."""
        return probe_images(channels, size, count, seed)

    def probe_only_elements(self) -> list[Element]:
        """Elements the ``check`` command measures beyond
        [`checked_elements`][structured_ssl.groups.base.GroupPlugin.checked_elements] (on
        [`probe_images`][structured_ssl.groups.base.GroupPlugin.probe_images] only; the online
        monitor never sees them). Default: none."""
        return []

    # ----------------------------------------------------------------- fiber positions
    #: how the objectives draw and read fiber positions: "grid" (cells of the index grid,
    #: gathered) or "angle" (radians on the circle, read by the encoder's Fourier series).
    fiber_positions: ClassVar[str] = "grid"

    # ----------------------------------------------------------------- escnn
    #: whether the paper's SESN filter copies (rot90 / flip copies of one filter,
    #: ``groups/rotation/rot90_conv.py``) build this group (exact for order 4 only).
    rot90_copies: ClassVar[bool] = False

    def gspace(self) -> Any:
        """The escnn gspace the group's layers are built on (groups built with escnn)."""
        raise ValueError(
            f"group.kind={self.kind!r} has no escnn gspace: escnn encoders support rotation or dihedral"
        )

    def escnn_element(self, gspace: Any, g: Element) -> Any:
        """Our index tuple -> the escnn group element of
        [`gspace`][structured_ssl.groups.base.GroupPlugin.gspace]."""
        raise ValueError(f"group.kind={self.kind!r} has no escnn gspace")

    # ----------------------------------------------------------------- layers
    small_widths: ClassVar[tuple[int, ...]] = (8, 16, 32)

    def layer_kit(self, options: LayerOptions) -> LayerKit:
        """The layers the architectures build this group's encoders from, ``options`` bound in
        (made once per encoder by ``Group.layer_kit``)."""
        return LayerKit(
            small_widths=self.small_widths,
            small=partial(self.build_small, padding_mode=options.padding_mode),
            conv=partial(self.paper_conv, options),
            conv_forward=partial(self.paper_conv_forward, options),
            lift=self.paper_lift,
            action=self.action,
            paper_mnist_effective_sizes=self.paper_mnist_effective_sizes,
            input_lift=self.input_lift(options),
            filter_copies=self.filter_copies(),
            check_paper=partial(self.check_paper_settings, options.rotation_conv),
        )

    def build_small(self, layout: SmallLayout, padding_mode: str = "circular") -> LiftedEncoder:
        """The structured ``small`` encoder (a LiftedEncoder)."""
        raise NotImplementedError

    def input_lift(self, options: LayerOptions) -> Any:
        """``(plain network, out_channels) -> encoder`` when this group's encoder lifts its
        INPUT (scale's default), else None (the layer-wise route)."""
        return None

    def filter_copies(self) -> Any:
        """``kernel -> one copy per group element`` when each element is a pixel-exact filter
        transform (the read-out conv's copies), else None (one filter shared by every slice)."""
        return None

    def check_paper_settings(self, rotation_conv: str) -> None:
        """Reject paper-backbone settings this group cannot build (before any layer is built)."""

    def paper_conv(self, options: LayerOptions, shape: ConvShape) -> nn.Module:
        """The paper backbones' convolution (``lifting``: from images) for this group."""
        raise NotImplementedError

    def paper_conv_forward(
        self, options: LayerOptions, conv: nn.Module, x: torch.Tensor, lifting: bool
    ) -> torch.Tensor:
        """Apply [`paper_conv`][structured_ssl.groups.base.GroupPlugin.paper_conv]'s module to the
        lifted layout (default: it takes it as is)."""
        return conv(x)

    def paper_lift(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The whole paper backbone on images (default ``net(x)``)."""
        return net(x)

    #: Hermite orders of paper_mnist's three convs (the paper's 11/3/3 by default).
    paper_mnist_effective_sizes: ClassVar[tuple[int, int, int]] = (11, 3, 3)

    def check_image_size(self, spec: Any, image_size: int) -> None:
        """Reject an image size that breaks this group's exact equivariance (ValueError)."""

    def check_channels(self, in_channels: int) -> None:
        """Reject image channels this group cannot act on (ValueError; hue needs RGB)."""

    # ----------------------------------------------------------------- A-SSL views
    #: whether T_g moves pixels: False (colour groups) skips the affine warp, which would only
    #: resample the view through an identity matrix.
    geometric_views: ClassVar[bool] = True

    def view_colour(self, x: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
        """The colour part of T_g on A-SSL's views ``(B, C, H, W)`` for ``elements`` ``(B, ndim)``,
        applied before the warp of
        [`view_affine`][structured_ssl.groups.base.GroupPlugin.view_affine] (default: none)."""
        return x

    def augmentation_grid(self, max_shift: int) -> tuple[tuple[int, ...], bool]:
        """(shape, cyclic) of the grid A-SSL draws each view's element on (default: the fiber grid)."""
        return (self.size,), self.grid_cyclic

    def augmentation_distance(self, max_distance: float, pixels_per_cell: int) -> float:
        """A fiber-grid distance as a distance on
        [`augmentation_grid`][structured_ssl.groups.base.GroupPlugin.augmentation_grid] (default:
        the same)."""
        return max_distance

    def view_affine(
        self, elements: torch.Tensor, jitter: torch.Tensor | None, max_shift: int, view: ViewAffine
    ) -> ViewAffine:
        """The view's warp for ``elements`` ``(B, ndim)`` on
        [`augmentation_grid`][structured_ssl.groups.base.GroupPlugin.augmentation_grid]: ``view``
        (the identity) with what T_g changes (``dataclasses.replace``). ``jitter`` ``(B,)`` in
        [0, 1) is the continuous part of a rotation (None unless drawn); ``max_shift`` the grid's
        largest pixel shift."""
        raise NotImplementedError

    # ----------------------------------------------------------------- names
    #: the names as format strings over the plug-in, written like f-strings (``"C{self.order}"``);
    #: `distance_format` also reads ``{distance}`` and ``{degrees}`` (`degrees_for_distance`).
    #: A group whose name needs more than its attributes overrides the method instead.
    short_name_format: ClassVar[str] = ""
    describe_format: ClassVar[str] = "{self.kind}"
    distance_format: ClassVar[str] = ""

    @property
    def short_name(self) -> str:
        """``C8``: the group in run names (from `short_name_format`)."""
        if not self.short_name_format:
            raise NotImplementedError(f"group kind {self.kind!r} states no short_name_format")
        return self.format_name(self.short_name_format)

    def describe(self) -> str:
        """``rotation order 8``: one line for summaries."""
        return self.format_name(self.describe_format)

    def distance_meaning(self, distance: float) -> str:
        """What a topographic ``distance`` between A-SSL's two views means in the group's units."""
        return self.format_name(
            self.distance_format, distance=distance, degrees=self.degrees_for_distance(distance)
        )

    def degrees_for_distance(self, distance: float) -> float:
        """How far in degrees a grid distance reaches (NaN where no angle is involved)."""
        return math.nan

    def format_name(self, template: str, **values: Any) -> str:
        """``template`` formatted with this plug-in as ``self`` and ``values``."""
        return template.format(self=self, **values)


def plugin_class(kind: str) -> type[GroupPlugin]:
    """The registered plug-in for ``kind``, or one line listing the known kinds."""
    try:
        return GROUP_TYPES[kind]
    except KeyError:
        close = difflib.get_close_matches(str(kind), list(GROUP_TYPES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"group.kind={kind!r} is not a known group; expected one of {list(GROUP_TYPES)}{hint}"
        ) from None
