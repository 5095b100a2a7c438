"""The error of a given kind that caused a wrapped one.

Why: jsonargparse wraps what a model's ``__init__`` raises and Lightning re-raises what a hook
raises, so the one-line errors the CLI prints (a refused checkpoint, a bad setting, a failed
write) are found by walking the cause chain; every caller walks it the same way.
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def cause_of(error: BaseException, kinds: type[E] | tuple[type[E], ...]) -> E | None:
    """The first error in ``error``'s chain (itself, then ``__cause__`` or else
    ``__context__``, each error once) that is one of ``kinds``, or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
