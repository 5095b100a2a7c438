"""Write one API reference page per module of ``src/structured_ssl`` during ``mkdocs build``.

Run by the mkdocs-gen-files plugin (``mkdocs.yml``), not by hand: each module becomes
``reference/<package path>/<module>.md`` holding ``::: structured_ssl.<module>``, which
mkdocstrings renders from the docstrings. Why generated: the pages follow the package as it
is, so moving a module to another subpackage moves its page, and a new module gets one.
"""

from __future__ import annotations

from pathlib import Path

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


for page, module in module_pages().items():
    with mkdocs_gen_files.open(page, "w") as f:
        f.write(f"# `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false\n")
