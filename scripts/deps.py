"""Print the project's dependencies (pyproject.toml: the package's, the ``dev`` and ``docs`` extras),
one per line, leaving out the ones named.

Why: escnn must be installed with --no-deps where no Fortran compiler exists (its py3nj
dependency needs one), so the Makefile installs every other dependency from this list
(``pip install -r``). Python 3.11+ reads pyproject.toml with ``tomllib``; older Pythons fall
back to the ``tomli`` package, and without it this script says so and exits 1 (instead of
printing nothing, which left the Makefile with a bare ``pip install``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def load_toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib  # the same parser, for Python < 3.11
        except ModuleNotFoundError:
            sys.exit(
                f"scripts/deps.py: reading pyproject.toml needs Python 3.11+ (tomllib) or the tomli package; "
                f"this is Python {sys.version.split()[0]}: `pip install tomli`, or use Python 3.11+"
            )
    return tomllib.loads(text)


def requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].strip().lower()


def requirements(exclude: set[str]) -> list[str]:
    project = load_toml(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    listed = project["dependencies"] + extras["dev"] + extras["docs"]
    return [r for r in listed if requirement_name(r) not in {e.lower() for e in exclude}]


if __name__ == "__main__":
    print("\n".join(requirements(set(sys.argv[1:]))))
