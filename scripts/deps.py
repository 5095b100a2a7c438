"""Print the project's dependencies (from pyproject.toml), leaving out the ones named.

Why: escnn must be installed with --no-deps where no Fortran compiler exists (its py3nj
dependency needs one), so the Makefile installs every other dependency from this list.
"""

import sys
from pathlib import Path

import tomllib

EXCLUDE = set(sys.argv[1:])
project = tomllib.loads(Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text())["project"]
requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
names = lambda r: r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()  # noqa: E731
print(" ".join(f"'{r}'" for r in requirements if names(r) not in EXCLUDE))
