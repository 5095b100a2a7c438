"""Class paths read from files are checked against the library's own classes BEFORE import.

A checkpoint's hyperparameters name classes (``_class_path`` of the objective, ``class_path``
of its loss). LightningCLI and the offline evaluation turn such a string into a class with
``importlib.import_module``, and importing a module runs its top-level code: a crafted file
could name any importable module and have it run. So every class path that comes from a FILE
(not from the user's own config or command line) must be one of:

* the library's objectives (every :class:`~structured_ssl.methods.base.SSLMethod` defined in
  ``structured_ssl.methods``) and pair losses (``structured_ssl.ssl.losses``), under the dotted
  path they are defined at or the package path that exports them;
* a class the user lists in the environment variable :data:`ALLOW_ENV` (comma-separated
  full class paths; a path ending in ``.*`` allows a whole module), for their own subclasses.

The check reads only the library's modules, never the named one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from structured_ssl.config.field_checks import CheckpointError
from structured_ssl.ssl import losses

#: the environment variable with the user's own allowed class paths (``pkg.mod.Class,pkg2.*``)
ALLOW_ENV = "STRUCTURED_SSL_ALLOW_CLASSES"
#: the keys under which hyperparameters name a class
CLASS_KEYS = ("_class_path", "class_path")


class ClassPathError(CheckpointError):
    """A class path from a file that is not allowed (it was not imported)."""


@lru_cache(maxsize=1)
def library_classes() -> frozenset[str]:
    """Every dotted path under which a library objective or pair loss may be named."""
    from structured_ssl import methods  # this package, once its modules are all imported

    paths: set[str] = set()

    def add(cls: type) -> None:
        paths.add(f"{cls.__module__}.{cls.__qualname__}")
        for package in (methods, losses):
            if getattr(package, cls.__name__, None) is cls:
                paths.add(f"{package.__name__}.{cls.__name__}")

    stack: list[type] = [methods.SSLMethod, losses.PairLoss]
    while stack:
        cls = stack.pop()
        if cls.__module__.startswith("structured_ssl."):
            add(cls)
        stack.extend(cls.__subclasses__())
    # the offline evaluation's class, named rather than imported (it imports this module)
    paths.add("structured_ssl.methods.linear_eval.LinearEval")
    return frozenset(paths)


def user_allowed() -> list[str]:
    """The class paths (or ``module.*`` patterns) the user allows in :data:`ALLOW_ENV`."""
    return [p.strip() for p in os.environ.get(ALLOW_ENV, "").split(",") if p.strip()]


def is_allowed(class_path: str) -> bool:
    if class_path in library_classes():
        return True
    for pattern in user_allowed():
        if class_path == pattern or (
            pattern.endswith(".*") and class_path.rpartition(".")[0] == pattern[:-2]
        ):
            return True
    return False


def class_paths_in(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(key, class path) of every class named anywhere in a hyperparameter tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if key in CLASS_KEYS and isinstance(item, str):
                yield here, item
            else:
                yield from class_paths_in(item, here)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from class_paths_in(item, f"{where}[{i}]")


def check_class_paths(hparams: Any, source: str) -> None:
    """Refuse (one line, nothing imported) a class path in ``hparams`` read from ``source``."""
    for key, class_path in class_paths_in(hparams):
        if not is_allowed(class_path):
            raise ClassPathError(
                f"{source}: its hyperparameters name {key}={class_path!r}, which is not a structured_ssl "
                "objective or loss, so it was not imported (importing a module runs its code); if you "
                f"trust this class, allow it with {ALLOW_ENV}={class_path}"
            )
