"""Rewrite Sphinx roles in docstrings (``:class:`Group```) as mkdocstrings cross-references.

Why: the API reference is rendered by mkdocstrings (Markdown, Google style), which prints a
Sphinx role as it is (``:class:`...```), so a reader met raw roles on 80 pages. Each role
becomes a Markdown cross-reference to the object's documented path
(``[`Group`][structured_ssl.groups.spec.Group]``), resolved with griffe (what mkdocstrings
reads) in the scope the docstring sits in, as Sphinx would; a target that the site does not
render (outside the package, private, without a docstring) becomes plain code (```Group```),
so ``mkdocs build --strict`` finds every reference it is given.

Re-runnable and idempotent (a rewritten file has no role left to rewrite)::

    python scripts/docstring_roles.py                      # every module of src/structured_ssl
    python scripts/docstring_roles.py --exclude 'groups/*' # leave some modules alone
    python scripts/docstring_roles.py --check              # list the roles left; exit 1 if any

Only string literals and comments are rewritten (found with ``tokenize``), never code.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import re
import sys
import tokenize
from functools import partial
from pathlib import Path

import griffe

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "structured_ssl"
WIDTH = 100  # ruff's line-length: a line the rewrite made longer is broken before it
ROLE = re.compile(
    r":(?:py:)?(class|func|meth|attr|mod|data|obj|exc|const):`([~!]?)([^`<>]+?)(\(\))?`"
)


def load_package(src: Path = SRC) -> griffe.Module:
    return griffe.load(
        PACKAGE, search_paths=[str(src)], resolve_aliases=True, resolve_external=False
    )


def final(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    """The object an alias points to, or None when it lies outside the loaded package."""
    try:
        return obj.final_target if obj.is_alias else obj  # type: ignore[union-attr,return-value]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def member(obj: griffe.Object, dotted: str) -> griffe.Object | None:
    """``obj.a.b`` following aliases, or None."""
    current: griffe.Object | None = obj
    for part in dotted.split("."):
        if current is None or part not in current.members:
            return None
        current = final(current.members[part])
    return current


def rendered(obj: griffe.Object) -> bool:
    """Whether the API pages (scripts/api_pages.py, mkdocs.yml) render ``obj`` with an anchor."""
    if not obj.path.startswith(PACKAGE):
        return False
    current: griffe.Object | None = obj
    while current is not None and not current.is_module:
        name = current.name
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            return False
        if name.startswith("__") or not has_docstrings(current):
            return False  # show_if_no_docstring: false; dunders are merged or filtered
        current = current.parent
    return current is not None and not any(
        p.startswith("_") and p != "__init__" for p in current.path.split(".")
    )


def has_docstrings(obj: griffe.Object) -> bool:
    if obj.docstring is not None and obj.docstring.value.strip():
        return True
    return obj.is_class and any(
        not m.is_alias and has_docstrings(m)  # type: ignore[arg-type]
        for n, m in obj.members.items()
        if not n.startswith("_")
    )


def scopes_at(module: griffe.Module, line: int) -> list[griffe.Object]:
    """The objects whose source spans ``line``, innermost first, then the module and its packages."""
    chain: list[griffe.Object] = [module]
    current: griffe.Object = module
    while True:
        inner = [
            m
            for m in current.members.values()
            if not m.is_alias
            and (m.is_class or m.is_function)
            and m.lineno is not None
            and m.endlineno is not None
            and m.lineno <= line <= m.endlineno
        ]
        if not inner:  # then the packages above, as a sibling module is named relatively
            packages = [module.parent] if module.parent is not None else []
            while packages and packages[-1].parent is not None:
                packages.append(packages[-1].parent)
            return [*chain[::-1], *packages]  # type: ignore[list-item]
        current = inner[0]  # type: ignore[assignment]
        chain.append(current)


def resolve(
    package: griffe.Module, scopes: list[griffe.Object], target: str
) -> griffe.Object | None:
    """What Sphinx would link ``target`` to: the innermost scope first, then absolute paths."""
    for scope in scopes:
        found = member(scope, target)
        if found is not None:
            return found
    if target == PACKAGE:
        return package
    return member(package, target.removeprefix(f"{PACKAGE}."))  # absolute, or below the package


def rewrite_role(package: griffe.Module, scopes: list[griffe.Object], match: re.Match[str]) -> str:
    _, marker, target, call = match.groups()
    target = target.strip()
    display = (target.rsplit(".", 1)[-1] if marker == "~" else target) + (call or "")
    found = resolve(package, scopes, target)
    if found is None or marker == "!" or not rendered(found):
        return f"`{display}`"
    return f"[`{display}`][{found.path}]"


def split_points(line: str) -> list[int]:
    """Spaces where ``line`` may break: outside code spans and cross-references."""
    points, ticks, brackets = [], 0, 0
    for i, char in enumerate(line):
        if char == "`":
            ticks ^= 1
        elif char == "[" and not ticks:
            brackets += 1
        elif char == "]" and not ticks:
            brackets = max(brackets - 1, 0)
        elif char == " " and not ticks and not brackets and line[:i].strip():
            points.append(i)
    return points


def continuation_indent(line: str) -> str:
    """How the next line of ``line``'s paragraph is indented (list items and ``name:`` entries
    of an Args section hang)."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.lstrip().removeprefix('"""').removeprefix('r"""')
    if re.match(r"[*-] ", body):
        return indent + "  "
    if re.match(r"[A-Za-z_][\w, *]*( \([^)]*\))?: ", body) and indent:
        return indent + "    "
    return indent


def joins(line: str, indent: str) -> bool:
    """Whether ``line`` goes on the paragraph above it (so a broken line's tail may move into
    it): not blank, as indented, and no list item, section title, entry, fence or quotes."""
    body = line.strip()
    return (
        bool(body)
        and line[: len(line) - len(line.lstrip())] == indent
        and not re.match(r"([*-] |```|>>>|\w[\w ]*:$|[\w, *]+( \([^)]*\))?: )", body)
        and not body.startswith(('"""', "'''"))
    )


def wrap(new: str, old: str, column: int, comment: bool) -> str:
    """Break each line of ``new`` that the rewrite changed and made longer than WIDTH (the
    string starts at ``column`` of its file), moving the tail into the paragraph's next line
    when there is one (so a paragraph grows by a line at most); unchanged lines stay as they
    are."""
    lines = new.split("\n")
    dirty = [a != b for a, b in zip(lines, old.split("\n"), strict=True)]
    starts = [column] + [0] * (len(lines) - 1)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line, start = lines[i], starts[i]
        if not dirty[i] or start + len(line) <= WIDTH:
            out.append(line)
            i += 1
            continue
        if comment:
            prefix = " " * column + ("#: " if line.startswith("#:") else "# ")
        else:
            prefix = " " * column if i == 0 and start else continuation_indent(line)
        lead = len(line) - len(line.lstrip())
        points = [p for p in split_points(line) if p > (lead if start else max(lead, len(prefix)))]
        fits = [p for p in points if start + p <= WIDTH] or points[:1]  # or after a long link
        if not fits:
            out.append(line)
            i += 1
            continue
        out.append(line[: fits[-1]])
        tail = line[fits[-1] + 1 :].lstrip()
        following = lines[i + 1] if i + 1 < len(lines) else None
        if not comment and following is not None and joins(following, prefix):
            lines[i + 1], dirty[i + 1] = f"{prefix}{tail} {following.lstrip()}", True
            i += 1
        else:
            lines[i], starts[i] = prefix + tail, 0  # the tail is a line of its own
    return "\n".join(out)


def rewrite_source(package: griffe.Module, module: griffe.Module, source: str) -> str:
    """``source`` with every role inside a string literal rewritten."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.STRING, tokenize.COMMENT) or not ROLE.search(token.string):
            continue
        scopes = scopes_at(module, token.start[0])
        new = ROLE.sub(partial(rewrite_role, package, scopes), token.string)
        new = wrap(new, token.string, token.start[1], token.type == tokenize.COMMENT)
        start = offsets[token.start[0] - 1] + token.start[1]
        end = offsets[token.end[0] - 1] + token.end[1]
        edits.append((start, end, new))
    for start, end, new in reversed(edits):
        source = source[:start] + new + source[end:]
    return source


def module_of(package: griffe.Module, path: Path, src: Path) -> griffe.Module | None:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    found = member(package, ".".join(parts[1:])) if len(parts) > 1 else package
    return found if found is not None and found.is_module else None  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: the package)"
    )
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip files whose path below src/structured_ssl matches (repeatable)")  # fmt: skip
    parser.add_argument("--check", action="store_true", help="rewrite nothing; list roles left")
    args = parser.parse_args(argv)
    root = SRC / PACKAGE
    files = sorted(
        f
        for p in (args.paths or [root])
        for f in ([p] if p.is_file() else p.rglob("*.py"))
        if not any(
            fnmatch.fnmatch(f.resolve().relative_to(root).as_posix(), g) for g in args.exclude
        )
    )
    package = load_package()
    left = changed = 0
    for path in files:
        source = path.read_text()
        roles = [m.group(0) for m in ROLE.finditer(source)]
        if not roles:
            continue
        if args.check:
            left += len(roles)
            print(f"{path}: {len(roles)} role(s), e.g. {roles[0]}")
            continue
        module = module_of(package, path.resolve(), SRC)
        if module is None:
            print(f"{path}: not a module of {PACKAGE}; skipped", file=sys.stderr)
            continue
        new = rewrite_source(package, module, source)
        if new != source:
            path.write_text(new)
            changed += 1
            print(f"{path}: {len(roles) - len(ROLE.findall(new))} role(s) rewritten")
    if args.check:
        return 1 if left else 0
    print(f"{changed} file(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
