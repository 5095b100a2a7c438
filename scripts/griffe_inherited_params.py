"""A griffe extension for the API reference: a subclass lists the parameters it inherits.

Why: ``StructuredSSL``, ``Frozen`` and ``Supervised`` have no ``__init__`` of their own and
``AugmentationSSL`` / ``HybridSSL`` pass ``*args, **kwargs`` on to ``SSLMethod``, so their
pages showed no description of ``group``, ``encoder``, ``loss``... although ``SSLMethod``'s
``Args:`` section describes each once. This extension (``mkdocs.yml``, mkdocstrings'
``extensions``) adds to such a class an ``Other Parameters:`` section holding the entries of
its bases' ``Args:`` sections that its own docstring does not describe, so the descriptions
stay written in one place.
"""

from __future__ import annotations

import re

import griffe

SECTION = re.compile(r"^(Args|Arguments|Parameters):\s*$")
ENTRY = re.compile(r"^    (\*{0,2}[A-Za-z_][\w, ]*)(?: \([^)]*\))?:")


def args_entries(docstring: str) -> dict[str, list[str]]:
    """``name -> lines`` of a Google-style ``Args:`` section (entries keep their own lines)."""
    entries: dict[str, list[str]] = {}
    inside, current = False, None
    for line in docstring.splitlines():
        if SECTION.match(line):
            inside = True
            continue
        if inside and line.strip() and not line.startswith("    "):
            break  # the next section
        match = ENTRY.match(line) if inside else None
        if match:
            current = match.group(1)
            entries[current] = [line]
        elif inside and current is not None and line.strip():
            entries[current].append(line)
    return entries


def passes_parameters_on(cls: griffe.Class) -> bool:
    """No ``__init__`` of its own, or one that hands ``*args``/``**kwargs`` to its base."""
    init = cls.members.get("__init__")
    if init is None:
        return True
    kinds = {p.kind for p in init.parameters}  # type: ignore[union-attr]
    return bool(kinds & {griffe.ParameterKind.var_positional, griffe.ParameterKind.var_keyword})


def inherited_entries(cls: griffe.Class) -> dict[str, list[str]]:
    """The ``Args:`` entries of the bases (nearest first) that ``cls`` does not describe."""
    own = args_entries(cls.docstring.value if cls.docstring else "")
    found: dict[str, list[str]] = {}
    for base in cls.mro():
        if not isinstance(base, griffe.Class) or base.docstring is None:
            continue
        for name, lines in args_entries(base.docstring.value).items():
            if name not in own and name not in found:
                found[name] = lines
    return found


class InheritedParameters(griffe.Extension):
    """Add ``Other Parameters:`` (the bases' descriptions) to classes that inherit them."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: object) -> None:
        for cls in classes(pkg):
            if not passes_parameters_on(cls):
                continue
            try:
                entries = inherited_entries(cls)
            except (griffe.AliasResolutionError, ValueError):
                continue  # a base outside the package (e.g. LightningModule's bases)
            if not entries:
                continue
            text = cls.docstring.value if cls.docstring else ""
            section = "\n".join(line for lines in entries.values() for line in lines)
            value = f"{text}\n\nOther Parameters:\n{section}".strip()
            if cls.docstring is None:
                cls.docstring = griffe.Docstring(value, parent=cls)
            else:
                cls.docstring.value = value


def classes(obj: griffe.Object) -> list[griffe.Class]:
    """Every class defined in ``obj`` (a package), its submodules and classes included."""
    found = []
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_class:
            found.append(member)  # type: ignore[arg-type]
        if member.is_module or member.is_class:
            found.extend(classes(member))  # type: ignore[arg-type]
    return found
