"""Write one API reference page per module of ``src/structured_ssl`` during ``mkdocs build``.

Run by the mkdocs-gen-files plugin (``mkdocs.yml``), not by hand: each module becomes
``reference/<package path>/<module>.md`` holding ``::: structured_ssl.<module>``, which
mkdocstrings renders from the docstrings. Why generated: the pages follow the package as it
is, so moving a module to another subpackage moves its page, and a new module gets one.

The package's own page (``reference/structured_ssl/index.md``) is its docstring and one table
of the public API: each name of ``structured_ssl.__all__``, the first line of its docstring,
and a link to where it is documented (read with griffe, as mkdocstrings reads it).
"""

from __future__ import annotations

import re
from pathlib import Path

import griffe
import mkdocs_gen_files

SRC = Path(__file__).resolve().parents[1] / "src"


def module_pages(src: Path = SRC) -> dict[str, str]:
    """Page path (under docs) -> dotted module name, for every public module and package."""
    pages = {}
    for path in sorted((src / "structured_ssl").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__main__" or any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
            page = Path("reference", *parts, "index.md")
        else:
            page = Path("reference", *parts).with_suffix(".md")
        pages[page.as_posix()] = ".".join(parts)
    return pages


def first_sentence(docstring: str) -> str:
    """The docstring's first sentence on one line, any Sphinx role left in it as plain code."""
    paragraph = " ".join(docstring.strip().split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    sentence = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", sentence)
    return sentence


def public_api_table(src: Path = SRC) -> str:
    """A Markdown table: each public name, one line of its docstring, a link to its page."""
    package = griffe.load("structured_ssl", search_paths=[str(src)], resolve_aliases=True)
    rows = ["| name | what it is |", "| --- | --- |"]
    for name in package.exports or []:
        if name == "__version__":
            continue
        target = package.members[name]
        target = target.final_target if target.is_alias else target
        summary = first_sentence(target.docstring.value if target.docstring else "")
        summary = summary.replace("|", "\u2223")  # a table cell ends at "|", even in code
        rows.append(f"| [`{name}`][{target.path}] | {summary} |")
    return "\n".join(rows) + "\n"


PACKAGE_PAGE = """# `structured_ssl`

::: structured_ssl
    options:
      show_root_heading: false
      members: false

## The public API

`from structured_ssl import NAME` for each name below (`structured_ssl.__all__`); the link
leads to the module that defines it.

"""

for page, module in module_pages().items():
    with mkdocs_gen_files.open(page, "w") as f:
        if module == "structured_ssl":
            f.write(PACKAGE_PAGE + public_api_table())
            continue
        f.write(f"# `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false\n")
