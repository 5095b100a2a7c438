"""The package's folders are layers and imports point one way: down.

:data:`LAYERS` is the one place the order is stated (lowest first). Every import between two
modules of the package counts, deferred ones inside functions included; imports under
``if TYPE_CHECKING:`` do not (type hints only). ``lifted`` (the encoder contract and base) is
the lowest layer; the groups own their layers and sit on it; the group-agnostic architectures
(``encoders``) sit above the groups and build from a group's layer kit. No module is over 400 lines, and no
module (a package's ``__init__`` aside) passes on names it imports: importers name the module
that defines them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from test_imports import PACKAGE, import_graph, module_name

#: layer -> rank (lowest first); ``cli`` is the one top-level module, above everything.
LAYERS: dict[str, int] = {
    name: rank
    for rank, name in enumerate(
        [
            "lifted",
            "groups",
            "encoders",
            "data",
            "ssl",
            "config",
            "methods",
            "callbacks",
            "experiments",
            "reporting",
            "cli",
        ]
    )
}
MAX_LINES = 400
#: Upward imports still to remove. Empty: the LightningCLI subclass the run worker and
#: ``check`` build models with lives in ``experiments.lightning_cli``. This set only shrinks:
#: the test fails on any other upward import AND on an entry that is gone.
KNOWN_UPWARD: set[str] = set()


#: top-level modules of the ``cli`` layer: the entry point and its help/typo front door (no
#: torch import).
CLI_MODULES = {"cli", "cli_help", "console"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in CLI_MODULES:
        return "cli"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_belongs_to_a_layer() -> None:
    modules = [module_name(p) for p in PACKAGE.rglob("*.py")]
    loose = [m for m in modules if m != "structured_ssl" and layer_of(m) is None]
    assert not loose, f"modules outside the layer packages: {loose}"


def test_no_import_goes_up_a_layer() -> None:
    upward = []
    for module, imported in import_graph().items():
        mine = layer_of(module)
        for target in imported:
            theirs = layer_of(target)
            if mine and theirs and LAYERS[theirs] > LAYERS[mine]:
                upward.append(f"{module} ({mine}) imports {target} ({theirs})")
    new = sorted(set(upward) - KNOWN_UPWARD)
    assert not new, "imports going up a layer:\n" + "\n".join(new)
    assert KNOWN_UPWARD <= set(upward), (
        f"fixed, remove from KNOWN_UPWARD: {KNOWN_UPWARD - set(upward)}"
    )


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_scan_sees_the_package() -> None:
    assert len(import_graph()) > 60 and Path(PACKAGE / "cli.py").exists()


def re_exports(source: str) -> list[str]:
    """Names a module imports from the package at top level and never uses: re-exports.

    A package's ``__init__`` is its public face and may gather names; a plain module that passes
    on another module's names is a shim, and importers must name the defining module instead."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("structured_ssl")
        for alias in node.names
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {  # ``module.attr``: the module name is used (a name in a docstring is not)
        n.value.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }
    return sorted(imported - used)


def test_no_module_re_exports_another_modules_names() -> None:
    shims = {
        module_name(p): names
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and (names := re_exports(p.read_text()))
    }
    assert not shims, f"re-exported names (import them from where they are defined): {shims}"


def test_the_re_export_scan_sees_a_shim() -> None:
    shim = "from structured_ssl.ssl.ema import momentum_at  # noqa: F401\n\nX = 1\n"
    assert re_exports(shim) == ["momentum_at"]
    assert re_exports("from structured_ssl.ssl.ema import momentum_at\n\nm = momentum_at\n") == []
