"""The configs that ship inside the package, found by name from any directory.

Why: after ``pip install`` of the package (a wheel) there is no checkout and no ``configs/``
folder, yet ``structured-ssl fit --config paper/mnist/rotation`` or ``--config default`` should work as
it does from the repository root. A ``--config`` value that names an existing file is used as
it is; otherwise it is looked up among the shipped configs (``.yaml`` may be left out).
The repository's top-level ``configs/`` IS the shipped folder (``structured_ssl/configs`` links
to it), so the checkout and the wheel read the same files.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

MANIFEST = "cells.yaml"
CONFIG_FLAGS = ("--config", "-c")


def shipped_root() -> Path:
    """The folder of shipped configs (``structured_ssl/configs`` inside the installed package)."""
    return Path(str(resources.files("structured_ssl") / "configs"))


def shipped_names() -> list[str]:
    """Every shipped config, as the name ``--config`` takes (``groups/rotation``), sorted."""
    root = shipped_root()
    return sorted(
        p.relative_to(root).with_suffix("").as_posix()
        for p in root.rglob("*.yaml")
        if p.name != MANIFEST
    )


def _strip(name: str) -> str:
    """``configs/x.yaml`` and ``x`` name the same shipped file."""
    name = name.replace("\\", "/")
    return name[len("configs/") :] if name.startswith("configs/") else name


def resolve_config(value: str) -> str:
    """An existing path as given; else the shipped config of that name; else the value unchanged
    (so the parser's own "file does not exist" error still names what the user typed)."""
    if Path(value).exists() or value.lstrip().startswith(("{", "[")) or "\n" in value:
        return value
    name = _strip(value)
    root = shipped_root()
    for candidate in (root / name, root / f"{name}.yaml"):
        if candidate.is_file():
            return str(candidate)
    return value


def resolve_config_root(value: str | Path) -> Path:
    """A folder with a ``cells.yaml`` as given; else the shipped folder of that name
    (``configs`` and ``.`` name the shipped root, ``paper`` the paper's cells)."""
    path = Path(value)
    if (path / MANIFEST).exists():
        return path
    name = _strip(path.as_posix()).strip("/")
    candidate = shipped_root() if name in ("", ".", "configs") else shipped_root() / name
    return candidate if (candidate / MANIFEST).exists() else path


def cell_arguments(value: str) -> list[str] | None:
    """``[ROOT/]DATASET/OBJECTIVE_GROUP`` (a grid cell, e.g. ``paper/mnist/structured_rotation``)
    as the ``--config`` files and overrides the grid composes for it; None if it names no cell."""
    from structured_ssl.config.cells import Cell, CellError, manifest

    *root_parts, dataset, cell_name = (
        _strip(value).split("/") if value.count("/") >= 1 else ("", "")
    )
    root = resolve_config_root("/".join(root_parts) or "configs")
    try:
        entry = manifest(root).get(dataset) or {}
    except CellError:
        return None
    for objective in entry.get("objectives", ()):
        group = cell_name.removeprefix(f"{objective}_")
        if group != cell_name and group in (entry.get("groups") or {}):
            try:
                configs, overrides = Cell(dataset, objective, group).arguments(root)
            except CellError:
                return None
            return [*(a for c in configs for a in ("--config", c)), *overrides]
    return None


def resolve_config_args(argv: Sequence[str]) -> list[str]:
    """``argv`` with each ``--config NAME`` / ``--config=NAME`` made a path (see
    [`resolve_config`][structured_ssl.config.shipped_configs.resolve_config]), and a ``--config``
    naming a grid cell expanded into that cell's configs and overrides."""
    out: list[str] = []
    flag: str | None = None
    for item in argv:
        if flag is None and item.startswith("--config="):
            flag, item = "--config", item.split("=", 1)[1]
        if flag is not None:
            resolved = resolve_config(item)
            cell = cell_arguments(item) if resolved == item and not Path(item).exists() else None
            out += cell if cell is not None else [flag, resolved]
            flag = None
        elif item in CONFIG_FLAGS:
            flag = item
        else:
            out.append(item)
    if flag is not None:
        out.append(flag)
    return out


def read_config_files(argv: Sequence[str]) -> list[str]:
    """``argv`` (after
    [`resolve_config_args`][structured_ssl.config.shipped_configs.resolve_config_args]) with each
    ``--config FILE`` read once first, strictly
    ([`read_yaml_config`][structured_ssl.config.yaml_reading.read_yaml_config]: binary or non-UTF-8
    files, syntax errors as ``FILE:LINE:COL``, duplicate keys, environment-variable syntax and alias
    bombs are one line), and an empty or comment-only file accepted as empty (dropped: an overlay
    that sets nothing changes nothing)."""
    from structured_ssl.config.yaml_reading import check_arguments, read_yaml_config

    check_arguments(list(argv))
    out: list[str] = []
    for flag, item in zip([None, *argv], argv, strict=False):
        if flag in CONFIG_FLAGS and Path(item).is_file():
            if read_yaml_config(item) is None:
                out.pop()  # the flag before it
                continue
        out.append(item)
    return out


def list_main(argv: Sequence[str] | None = None) -> None:
    """``structured-ssl configs``: the shipped configs, one name a line, for ``--config NAME``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="structured-ssl configs",
        description="List the configs shipped with structured-ssl; pass one as `--config NAME` from any directory.",
    )
    parser.add_argument(
        "prefix", nargs="?", default="", help="only names starting with this (e.g. paper/)"
    )
    parser.add_argument(
        "--path", action="store_true", help="print the folder that holds them and exit"
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.path:
        print(shipped_root())
        return
    for name in shipped_names():
        if name.startswith(args.prefix):
            print(name)
