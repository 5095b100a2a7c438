"""Groups as plug-ins: [`Group`][structured_ssl.groups.spec.Group] (the config's description) and
one package per group.

``structured_ssl.groups.base`` states the contract every group fulfils and ``kit`` the layer
kit a group hands to the architectures; ``rotation``, ``dihedral``, ``translation``,
``scale``, ``roto_translation`` and ``so2`` are the built-in groups, each a package holding its
plug-in and its layers. Every other module or package here is imported too, so a new group is
one new module or package (docs/guides/adding-a-group.md). The groups build on
[`structured_ssl.lifted`][structured_ssl.lifted] only; the architectures
([`structured_ssl.encoders`][structured_ssl.encoders]) sit above and receive a group's layer kit
(docs/guides/layers-and-group-contract.md).
"""

from __future__ import annotations

import importlib
import math
import pkgutil

from structured_ssl.groups.base import GROUP_TYPES, GroupPlugin, ViewAffine, plugin_class
from structured_ssl.groups.kit import LayerKit, LayerOptions
from structured_ssl.groups.spec import PAPER_SCALES, Group, short_name_of
from structured_ssl.lifted.contract import Element

# pickled as ``structured_ssl.groups.Group``, the name checkpoints written before the package
# split hold (and the one the checkpoint allow-list resolves)
Group.__module__ = __name__

_BUILT_IN = ("rotation", "dihedral", "translation", "scale")  # the order error messages list
for _name in _BUILT_IN:
    importlib.import_module(f"{__name__}.{_name}")
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in (*_BUILT_IN, "base", "kit", "spec"):
        importlib.import_module(f"{__name__}.{_module}")

#: the registered kinds (built-in ones first), for messages and docs.
GROUP_KINDS: tuple[str, ...] = tuple(GROUP_TYPES)


def max_topographic_distance(grid: tuple[int, ...], cyclic: bool) -> float:
    """Largest Euclidean distance between two cells of an index grid (cyclic: half-way round)."""
    spans = [(n // 2 if cyclic else n - 1) for n in grid]
    return math.sqrt(sum(s * s for s in spans))


__all__ = [
    "GROUP_KINDS",
    "GROUP_TYPES",
    "PAPER_SCALES",
    "Element",
    "Group",
    "GroupPlugin",
    "LayerKit",
    "LayerOptions",
    "max_topographic_distance",
    "plugin_class",
    "short_name_of",
    "ViewAffine",
]
