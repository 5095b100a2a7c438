"""The group description a config holds: plain settings, one value read by every user.

The same [`Group`][structured_ssl.groups.spec.Group] value tells the encoder factory which
equivariant layers to build, the augmentation builder which input transforms make A-SSL's views, and
the fiber sampler which fibers may pair. Its ``kind`` picks the plug-in
([`structured_ssl.groups.base`][structured_ssl.groups.base]) that knows what the settings mean;
[`Group.plugin`][structured_ssl.groups.spec.Group.plugin] is that plug-in.

Group elements are integer index tuples on the group's *index grid* (the paper's
"topographic" layout): ``(k,)`` for C_N rotations (angle 360 k / N), ``(f, k)`` for D_N
(flip f then rotation k), ``(s,)`` for the s-th scale, ``(dy, dx)`` for translations by
whole feature-map cells.

Kept a plain dataclass (not one class per group) so that ``group: {kind: rotation, order: 8}``
configs, CLI overrides such as ``--model.init_args.group.order=4`` and checkpoints whose
hyperparameters hold a pickled ``Group`` keep working.
"""

# No ``from __future__ import annotations`` here: ``Group.__module__`` is set to
# ``structured_ssl.groups`` (the pickled name), where jsonargparse could not resolve string
# annotations (no ``Any`` there), so it left every field unvalidated and warned that the
# ``scales`` tuple "does not round-trip" on every fit, check and --print_config.
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar, overload

from structured_ssl.groups.base import GroupPlugin, plugin_class
from structured_ssl.groups.kit import LayerKit, LayerOptions
from structured_ssl.lifted.bounds import EquivarianceBound

PAPER_SCALES: tuple[float, ...] = (1.0, 1.25, 1.33, 1.5, 1.66, 1.75)

T = TypeVar("T")


class PluginAnswer(Generic[T]):
    """A read-only attribute of [`Group`][structured_ssl.groups.spec.Group] that its plug-in
    answers (``read``: the hook it reads), one line per answer instead of a property each."""

    def __init__(self, read: Callable[[GroupPlugin], T]) -> None:
        self.read = read

    @overload
    def __get__(self, group: None, owner: type | None = None) -> "PluginAnswer[T]": ...

    @overload
    def __get__(self, group: "Group", owner: type | None = None) -> T: ...

    def __get__(self, group: "Group | None", owner: type | None = None) -> "T | PluginAnswer[T]":
        if group is None:
            return self
        return self.read(group.plugin)


@dataclass(frozen=True)
class Group:
    """A group with an index grid, as a config spells it.

    Args:
        kind: the registered plug-in's name: rotation (C_N), dihedral (D_N), translation
            (Z^2 on the feature grid), scale, or any group added in ``structured_ssl/groups/``.
        order: N for rotation/dihedral (D_N has 2N elements); ignored by groups that do not
            read it (translation: its fibers are the spatial cells of the last feature map;
            scale: ``len(scales)`` is its order).
        scales: the discrete scales of the scale group (its order is their count).
        continuous_augmentation: A-SSL draws continuous angles (True) instead of multiples
            of 360/N (False). Only rotation/dihedral read it.
        options: settings only one group reads (its plug-in's ``OPTIONS`` name them and
            their defaults); null for none.
    """

    kind: str = "rotation"
    order: int = 8
    scales: tuple[float, ...] = PAPER_SCALES
    continuous_augmentation: bool = False
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int):
            raise ValueError(f"group.order={self.order!r}: expected an integer")
        plugin_class(self.kind)(self).validate()  # messages show the values as given
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        object.__setattr__(self, "_plugin", plugin_class(self.kind)(self))

    def __hash__(self) -> int:
        options = tuple(sorted((self.options or {}).items()))
        return hash((self.kind, self.order, self.scales, self.continuous_augmentation, options))

    @property
    def plugin(self) -> GroupPlugin:
        """The plug-in that knows what these settings mean (made lazily for unpickled values)."""
        plugin = self.__dict__.get("_plugin")
        if plugin is None:
            plugin = plugin_class(self.kind)(self)
            object.__setattr__(self, "_plugin", plugin)
        return plugin

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            if name != "_plugin":
                object.__setattr__(self, name, value)

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> "Group":
        """A Group from a results/hparams dict (keys it does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in settings.items() if k in known and v is not None}
        if "scales" in values:
            values["scales"] = tuple(values["scales"])
        return cls(**values)

    # ----------------------------------------------------------------- the plug-in's answers
    has_group_axis = PluginAnswer(lambda plugin: plugin.has_group_axis)
    """True when fibers live on the lifted group axis; False when they are spatial cells."""
    size = PluginAnswer(lambda plugin: plugin.size)
    """|G| on the group axis (1 for translation, whose fibers are spatial)."""
    grid_cyclic = PluginAnswer(lambda plugin: plugin.grid_cyclic)
    """Whether moving along the index grid wraps around (rotations do, scales do not)."""
    short_name = PluginAnswer(lambda plugin: plugin.short_name)
    """C8, D4, T, S6: used in run names."""

    def rotation_degrees(self, k: int) -> float:
        return 360.0 * k / self.order

    def exact_input_elements(self) -> list[tuple[int, ...]]:
        """Group elements whose input transform is exact on a square pixel grid."""
        return self.plugin.exact_input_elements()

    def checked_elements(self) -> list[tuple[int, ...]]:
        """The non-identity elements the equivariance bound is stated for."""
        return self.plugin.checked_elements()

    def equivariance_bound(self) -> EquivarianceBound:
        """The fiber-map error this group's structured encoders promise."""
        return self.plugin.equivariance_bound()

    def layer_kit(self, options: LayerOptions | None = None) -> LayerKit:
        """The layers the architectures build this group's encoders from (``groups/kit.py``)."""
        return self.plugin.layer_kit(options if options is not None else LayerOptions())


def short_name_of(settings: Any) -> str:
    """The plug-in's short name (C8, D4, T, S6, SO2L3) for a config's ``group`` mapping (a dict or
    a jsonargparse namespace); the kind as written when the settings are not a valid group (a run
    name or a table label must not fail)."""
    get = settings.get if hasattr(settings, "get") else (lambda name, default=None: default)
    values = {f.name: get(f.name, None) for f in fields(Group)}
    options = values.get("options")
    if options is not None and not isinstance(options, dict):
        values["options"] = dict(options.items()) if hasattr(options, "items") else options
    try:
        return Group.from_config(values).short_name
    except (TypeError, ValueError):
        return str(values.get("kind") or "rotation")
