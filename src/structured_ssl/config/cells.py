"""Grid cells composed from config axes: dataset x objective x group (x loss, x pairing).

A config root (``configs/``, ``configs/paper/``) holds ``cells.yaml``: per dataset, the
objectives and groups it offers, the loss file for objectives that train on pairs, and the
pair settings for objectives that pair fibers of one map (H-SSL's distance that matches
A-SSL's translation range). A cell is then a list of config files, merged in order by
LightningCLI (one ``--config`` each), plus a few overrides:

    objectives/<objective>.yaml, datasets/<dataset>.yaml, groups/<file>.yaml,
    [encoders/unstructured.yaml], [losses/<pair_loss>.yaml]   + [--model.init_args.pairs.*]

Each file is looked up in the root, then in the folders above it (the paper root shares
``configs/objectives`` and ``configs/groups``). The grid, the studies, ``check --cells`` and the
tests all compose cells here, so one rule decides what a cell is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MANIFEST = "cells.yaml"
TWIN_SUFFIX = "_unstructured"


class CellError(ValueError):
    """A cell that the config root does not offer, or a file it names that is missing."""


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: a dataset, an objective and a group (``<group>_unstructured``: its twin)."""

    dataset: str
    objective: str
    group: str

    @property
    def name(self) -> str:
        return f"{self.objective}_{self.group}"

    def key(self, seed: int) -> str:
        return f"{self.dataset}/{self.name}/seed{seed}"

    def offered(self, root: Path) -> bool:
        entry = manifest(root).get(self.dataset) or {}
        return self.objective in entry.get("objectives", ()) and self.group in (
            entry.get("groups") or {}
        )

    def arguments(self, root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(config files in merge order, CLI overrides) that make this cell."""
        root = Path(root)
        entry = manifest(root).get(self.dataset)
        if entry is None:
            raise CellError(
                f"dataset={self.dataset!r} is not in {root / MANIFEST}; offered: {sorted(manifest(root))}"
            )
        if not self.offered(root):
            raise CellError(
                f"cell {self.dataset}/{self.name} is not offered by {root / MANIFEST}: objectives "
                f"{list(entry.get('objectives', ()))}, groups {list(entry.get('groups') or {})}"
            )
        objective = axis_file(root, "objectives", self.objective)
        configs = [
            objective,
            axis_file(root, "datasets", self.dataset),
            axis_file(root, "groups", entry["groups"][self.group]),
        ]
        twin_group = self.group.endswith(TWIN_SUFFIX)
        if twin_group:
            configs.append(axis_file(root, "encoders", "unstructured"))
        method = objective_class(objective)
        if entry.get("pair_loss") and getattr(method, "uses_pairs", False):
            configs.append(axis_file(root, "losses", entry["pair_loss"]))
        overrides: list[str] = []
        if getattr(method, "reads_fiber_pairs", False):
            twin = twin_group or objective_is_twin(objective)
            base = self.group.removesuffix(TWIN_SUFFIX)
            pairs = (entry.get("fiber_pairs") or {}).get(base + (TWIN_SUFFIX if twin else "")) or {}
            overrides += [f"--model.init_args.pairs.{k}={v}" for k, v in pairs.items()]
        return tuple(str(p) for p in configs), tuple(overrides)


def manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.exists():
        raise CellError(
            f"{path} does not exist: a config root names its cells there (e.g. configs/ or configs/paper/)"
        )
    return yaml.safe_load(path.read_text()) or {}


def axis_file(root: Path, axis: str, name: str) -> Path:
    """``<root>/<axis>/<name>.yaml``, else the same under the nearest folder above the root."""
    for base in (Path(root), *Path(root).resolve().parents):
        candidate = base / axis / f"{name}.yaml"
        if candidate.exists():
            if base == Path(root) or Path(root).is_absolute():
                return candidate
            return _relative_if_possible(candidate)
    raise CellError(f"no {axis}/{name}.yaml in {root} or the folders above it")


def _relative_if_possible(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _objective_model(path: Path) -> Mapping[str, Any]:
    return (yaml.safe_load(Path(path).read_text()) or {}).get("model") or {}


def objective_class(path: Path) -> type | None:
    """The method class an objective file names (None when it cannot be imported here)."""
    from structured_ssl.config.field_checks import import_class

    name = _objective_model(path).get("class_path")
    cls = import_class(str(name)) if name else None
    return cls if isinstance(cls, type) else None


def objective_is_twin(path: Path) -> bool:
    encoder = ((_objective_model(path).get("init_args") or {}).get("encoder")) or {}
    return encoder.get("structured") is False


def offered_cells(root: Path) -> Iterator[Cell]:
    """Every cell the root's manifest offers, dataset by dataset."""
    for dataset, entry in manifest(root).items():
        for objective in entry.get("objectives", ()):
            for group in entry.get("groups") or {}:
                yield Cell(dataset, objective, group)


def unknown_axis_names(
    root: Path, datasets: Sequence[str], objectives: Sequence[str], groups: Sequence[str]
) -> str | None:
    """One line naming the first axis value that no dataset of the root offers, with the allowed
    set, else None. A name some dataset offers is kept: its missing cells are left out (n/a)."""
    entries = manifest(root)
    offered = {
        "dataset": list(entries),
        "objectives": list(
            dict.fromkeys(o for e in entries.values() for o in (e or {}).get("objectives", ()))
        ),
        "groups": list(
            dict.fromkeys(g for e in entries.values() for g in ((e or {}).get("groups") or {}))
        ),
    }
    for axis, given in (("dataset", datasets), ("objectives", objectives), ("groups", groups)):
        unknown = [name for name in given if name not in offered[axis]]
        if unknown:
            return (
                f"--{axis} {' '.join(unknown)}: not offered by {Path(root) / MANIFEST}; "
                f"allowed: {', '.join(offered[axis])}"
            )
    return None
