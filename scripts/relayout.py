"""Move the flat modules of ``src/structured_ssl`` into layer subpackages and rewrite every reference.

Re-runnable and idempotent (a second run changes nothing); deleted after the final integration.

    python scripts/relayout.py             # move files still at their old place, rewrite references
    python scripts/relayout.py --check     # change nothing; exit 1 if anything would change
    python scripts/relayout.py --allow-unmapped   # proceed although top-level modules are unmapped

It stops (exit 2, before touching anything) when it finds a top-level module that is neither in
:data:`MODULES` nor in :data:`KEEP_TOP`: add it to the mapping (a module merged from another
branch) and run again.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

#: old module (relative to structured_ssl) -> new module. A package entry moves its submodules too.
MODULES: dict[str, str] = {
    # encoders: layers, the equivariance check beside them, and its bounds
    "bounds": "encoders.bounds",
    "equivariance": "encoders.equivariance",
    "equivariance_scale": "encoders.equivariance_scale",
    "modes": "encoders.modes",
    "sync_batchnorm": "encoders.sync_batchnorm",
    # ssl: pairs, draws, augmentation, losses, gather
    "pairs": "ssl.pairs",
    "angle_pairs": "ssl.angle_pairs",
    "randomness": "ssl.draws",
    "augment": "ssl.augmentation",
    "losses": "ssl.losses",
    "ema": "ssl.ema",
    "distributed": "ssl.gather",
    # config: CLI errors, field and config checks, cells
    "cli_errors": "config.cli_errors",
    "field_checks": "config.field_checks",
    "config_checks": "config.config_checks",
    "cells": "config.cells",
    # methods
    "optim": "methods.optim",
    "checkpoints": "methods.checkpoints",
    # callbacks: one module per callback family
    "online_eval": "callbacks.online_eval",
    "hparams_logging": "callbacks.hparams_logging",
    "fit_summary": "callbacks.fit_summary",
    "linear_curve": "callbacks.linear_curve",
    "resilience": "callbacks.resilience",
    "speed": "callbacks.speed",
    "metrics": "callbacks.metrics",
    "fiber_figure": "callbacks.fiber_figure",
    # experiments: runs, results, grid, study, launchers (and the tables they write)
    "runs": "experiments.runs",
    "results": "experiments.results",
    "grid": "experiments.grid",
    "study": "experiments.study",
    "launchers": "experiments.launchers",
    "tables": "experiments.tables",
    "check": "experiments.check",
    # reporting: report, compare, figures
    "report": "reporting.report",
    "compare": "reporting.compare",
    "accuracy_time": "reporting.accuracy_time",
    # merged from the other branches of this integration
    "shipped_configs": "config.shipped_configs",
    "class_paths": "methods.class_paths",
    "input_checks": "config.input_checks",
    "external_loss": "ssl.external_loss",
    "prediction_writer": "callbacks.prediction_writer",
    "tb_logging": "callbacks.tb_logging",
    "reproduce": "reporting.reproduce",
    "resume_checks": "experiments.resume_checks",
}

#: names moved out of a module (new module path -> {name: new module}); references follow them.
#: ``callbacks`` was a module and is now the package: its one class moves by name.
NAMES: dict[str, dict[str, str]] = {
    "callbacks": {"FitReport": "callbacks.fit_report"},
    "experiments.runs": {"scalar_metrics": "callbacks.hparams_logging"},
}

#: files moved as they are (old path -> new path, relative to src/structured_ssl).
FILES: dict[str, str] = {"callbacks.py": "callbacks/fit_report.py"}

#: what may stay at the top level of the package (the layer packages that exist already, the CLI).
KEEP_TOP = {
    "__init__",
    "cli",
    "cli_help",
    "console",
    "configs",
    "py.typed",
    "paper_results.json",
    "data",
    "encoders",
    "groups",
    "methods",
}

#: each layer package and its docstring (written only when the package has no __init__.py).
LAYERS: dict[str, str] = {
    "ssl": "The self-supervision itself: where pairs sit (pairs, angle pairs), the step's random draws,\n"
    "A-SSL's input augmentation, the pair losses, the EMA target and the gradient-carrying gather.\n"
    "Owns no model. May import: encoders, groups, data.",
    "config": "Settings checked before anything is built: one-line CLI errors, single-field rules,\n"
    "cross-field config checks, and grid cells composed from config axes.\n"
    "May import: encoders, groups, data, ssl.",
    "callbacks": "Lightning callbacks, one module per family (online evaluation, HParams logging, fit\n"
    "summary, linear curve, resilience, speed, fit report) and the metrics / figures they compute.\n"
    "May import: encoders, groups, data, ssl, config, methods.",
    "experiments": "Running experiments: one run in its own process, result files, the grid, studies,\n"
    "launchers (local, SLURM), the tables they write, and the equivariance check command.\n"
    "May import every layer below: encoders, groups, data, ssl, config, methods, callbacks.",
    "reporting": "Reading finished experiments back: the paper report, the TensorBoard comparison and the\n"
    "accuracy-time figure. May import every layer below it (up to experiments).",
}

TEXT_GLOBS = [
    "src/**/*.py",
    "tests/**/*.py",
    "benchmarks/**/*.py",
    "scripts/**/*.py",
    "scripts/**/*.sh",
    "configs/**/*.yaml",
    "docs/**/*.md",
    "*.md",
    "mkdocs.yml",
    "pyproject.toml",
    "Makefile",
    ".pre-commit-config.yaml",
    "notebooks/**/*.ipynb",
]
PACKAGE = "structured_ssl"


def root() -> Path:
    out = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def unmapped(src: Path) -> list[str]:
    """Top-level modules/packages that the mapping does not place."""
    found = []
    for path in sorted(src.iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if path.name.startswith((".", "__pycache__")) or name in KEEP_TOP or path.name in KEEP_TOP:
            continue
        if path.is_dir() and (
            name in {m.split(".")[0] for m in MODULES.values()} or name in LAYERS
        ):
            continue
        if path.suffix not in (".py", "") or name in MODULES or path.name in FILES:
            continue
        found.append(path.name)
    return found


def moves(src: Path) -> list[tuple[Path, Path]]:
    """(old, new) file paths still to move."""
    todo = []
    for old, new in [
        *((f"{o.replace('.', '/')}", f"{n.replace('.', '/')}") for o, n in MODULES.items())
    ]:
        for suffix in (".py", ""):
            a, b = src / (old + suffix), src / (new + suffix)
            if a.exists() and (suffix or a.is_dir()):
                todo.append((a, b))
    todo += [(src / o, src / n) for o, n in FILES.items() if (src / o).exists()]
    return todo


def _dotted(text: str) -> str:
    for old, new in sorted(MODULES.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w.]){PACKAGE}\.{re.escape(old)}(?![\w])", f"{PACKAGE}.{new}", text)
        text = re.sub(
            rf"(?<![\w.]){PACKAGE}/{re.escape(old.replace('.', '/'))}(?=\.py\b|/)",
            f"{PACKAGE}/{new.replace('.', '/')}",
            text,
        )
    return text


def _from_package(text: str) -> str:
    """``from structured_ssl import losses`` -> ``from structured_ssl.ssl import losses``."""

    def fix(match: re.Match[str]) -> str:
        indent, names = match.group(1), [n.strip() for n in match.group(2).split(",")]
        lines = []
        for item in names:
            name, _, alias = item.partition(" as ")
            new = MODULES.get(name.strip())
            if new is None:
                lines.append(f"{indent}from {PACKAGE} import {item}")
                continue
            parent, leaf = new.rsplit(".", 1)
            bound = alias.strip() or name.strip()
            suffix = f" as {bound}" if bound != leaf else ""
            lines.append(f"{indent}from {PACKAGE}.{parent} import {leaf}{suffix}")
        return "\n".join(lines)

    return re.sub(rf"^([ \t]*)from {PACKAGE} import ([\w ,]+)$", fix, text, flags=re.M)


def _names(text: str) -> str:
    """Names that moved between modules: dotted references and ``from X import a, b`` statements."""
    for module, moved in NAMES.items():
        for name, target in moved.items():
            text = re.sub(
                rf"(?<![\w.]){PACKAGE}\.{re.escape(module)}\.{name}\b",
                f"{PACKAGE}.{target}.{name}",
                text,
            )

        def fix(match: re.Match[str], module: str = module, moved: dict[str, str] = moved) -> str:
            indent, body = match.group(1), match.group(2)
            items = [
                re.sub(r"#.*", "", i).strip()
                for i in body.strip("()").replace("\n", ",").split(",")
            ]
            items = [i for i in items if i]
            if not any(i.split(" as ")[0].strip() in moved for i in items):
                return match.group(0)
            groups: dict[str, list[str]] = {}
            for item in items:
                groups.setdefault(moved.get(item.split(" as ")[0].strip(), module), []).append(item)
            return "\n".join(
                f"{indent}from {PACKAGE}.{m} import {', '.join(sorted(v))}"
                for m, v in sorted(groups.items())
            )

        text = re.sub(
            rf"^([ \t]*)from {PACKAGE}\.{re.escape(module)} import (\([^)]*\)|[^\n]*)$",
            fix,
            text,
            flags=re.M,
        )
    return text


KEEP = "relayout: keep"  # a line holding this marker is never rewritten (old paths on purpose)


def rewrite(text: str) -> str:
    kept = [line for line in text.splitlines() if KEEP in line]
    for i, line in enumerate(kept):
        text = text.replace(line, f"\0KEPT{i}\0", 1)
    text = _names(_from_package(_dotted(text)))
    for i, line in enumerate(kept):
        text = text.replace(f"\0KEPT{i}\0", line, 1)
    return text


def rewrite_file(path: Path) -> str | None:
    """The new text of ``path`` (None when unchanged); notebooks are rewritten cell by cell."""
    text = path.read_text()
    if path.suffix == ".ipynb":
        notebook = json.loads(text)
        for cell in notebook.get("cells", []):
            source = "".join(cell.get("source", []))
            new = rewrite(source)
            if new != source:
                cell["source"] = new.splitlines(keepends=True)
        new_text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        return new_text if json.loads(new_text) != json.loads(text) else None
    new_text = rewrite(text)
    return new_text if new_text != text else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if anything would change"
    )
    parser.add_argument(
        "--allow-unmapped", action="store_true", help="go on although unmapped modules exist"
    )
    args = parser.parse_args(argv)
    repo = root()
    src = repo / "src" / PACKAGE
    missing = unmapped(src)
    for name in missing:
        print(
            f"unmapped top-level module: src/{PACKAGE}/{name} (add it to MODULES in scripts/relayout.py)"
        )
    if missing and not args.allow_unmapped:
        return 2
    changes = 0
    for old, new in moves(src):
        changes += 1
        print(f"move {old.relative_to(repo)} -> {new.relative_to(repo)}")
        if not args.check:
            new.parent.mkdir(parents=True, exist_ok=True)
            if new.exists():
                print(f"error: {new.relative_to(repo)} exists already", file=sys.stderr)
                return 2
            subprocess.run(["git", "mv", str(old), str(new)], check=True, cwd=repo)
    for layer, doc in LAYERS.items():
        init = src / layer / "__init__.py"
        if not init.exists():
            changes += 1
            print(f"create {init.relative_to(repo)}")
            if not args.check:
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(f'"""{doc}\n"""\n')
                subprocess.run(["git", "add", str(init)], check=True, cwd=repo)
    this = Path(__file__).resolve()
    for pattern in TEXT_GLOBS:
        for path in sorted(repo.glob(pattern)):
            if path.resolve() == this or ".venv" in path.parts or not path.is_file():
                continue
            new_text = rewrite_file(path)
            if new_text is not None:
                changes += 1
                print(f"rewrite {path.relative_to(repo)}")
                if not args.check:
                    path.write_text(new_text)
    print(f"{changes} change(s){' needed' if args.check else ''}")
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    raise SystemExit(main())
