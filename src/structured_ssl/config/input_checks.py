"""Files and folders a run will read or write, checked before anything is built.

Without these checks the same mistakes surfaced after the model was built, as tracebacks:
an empty ``data_dir`` with ``download: false`` (55 lines from ``setup``), a truncated IDX file,
a ``default_root_dir`` that cannot be written (OSError from the logger). Each check here
raises [`ConfigError`][structured_ssl.config.field_checks.ConfigError] with the field, its value and
what is expected; ``check_config`` runs them last, on the parsed config.

* `check_output_folders`: ``trainer.default_root_dir``, the logger's ``save_dir`` and
  checkpoint ``dirpath`` must be folders (or creatable below one) that can be written; the
  probe writes one temporary file and removes it, so a bad run leaves nothing behind.
* [`check_dataset_files`][structured_ssl.config.input_checks.check_dataset_files]: a file-based
  dataset with ``download`` off must have its files, each in its format as far as the header and
  length state it (the data module's own ``check_files``: IDX headers and sizes, CIFAR batches, Tiny
  ImageNet's class list).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from structured_ssl.config.field_checks import (
    ConfigError,
    import_class,
    init_parameters,
    lookup,
)
from structured_ssl.data.download import DatasetFormatError, DatasetNotFoundError


# --------------------------------------------------------------------------- output folders
def _output_folders(config: Any) -> Iterator[tuple[str, Any]]:
    """(field, folder) of every place the run writes into that the config names."""
    yield "trainer.default_root_dir", lookup(config, "trainer.default_root_dir")
    loggers = lookup(config, "trainer.logger")
    for i, logger in enumerate(loggers if isinstance(loggers, (list, tuple)) else [loggers]):
        key = "trainer.logger" if not isinstance(loggers, (list, tuple)) else f"trainer.logger[{i}]"
        yield (
            f"{key}.init_args.save_dir",
            lookup(logger, "init_args.save_dir") if hasattr(logger, "get") else None,
        )
    callbacks = lookup(config, "trainer.callbacks") or []
    for i, callback in enumerate(
        callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    ):
        if hasattr(callback, "get"):
            for name in ("dirpath", "output_dir"):  # ModelCheckpoint's, a prediction writer's
                yield (
                    f"trainer.callbacks[{i}].init_args.{name}",
                    lookup(callback, f"init_args.{name}"),
                )


def check_writable_folder(field: str, value: Any) -> None:
    """``value`` is a folder that can be written, or can be created below one that can."""
    if value is None or "://" in str(value):
        return  # unset, or a remote filesystem (fsspec) this machine cannot probe
    path = Path(os.fspath(value)).expanduser()
    try:
        _check_writable(field, value, path)
    except OSError as error:  # the file system refuses the path itself (ENAMETOOLONG, ELOOP, ...)
        raise ConfigError(
            f"{field}={_abridged(value)} cannot be used ({error.strerror or error}): expected a folder path "
            f"the file system accepts{_name_limit(path)}"
        ) from None


def _abridged(value: Any, keep: int = 80) -> str:
    text = repr(str(value))
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}...{text[-keep:]} ({len(str(value))} characters)"


def _name_limit(path: Path) -> str:
    """`` (at most N bytes per folder name here; 'abc...' has M)`` for the longest name in ``path``."""
    longest = max(path.parts, key=lambda part: len(os.fsencode(part)), default="")
    try:
        limit = os.pathconf(path.anchor or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(longest))
    if size <= limit:
        return ""
    return f" (at most {limit} bytes per folder name here; {longest[:20]!r}... has {size})"


def _check_writable(field: str, value: Any, path: Path) -> None:
    if _name_limit(path):  # refused only when the folder is created, after the build: say it now
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{field}={str(value)!r} is a file, expected a folder (where the run writes its logs and checkpoints)"
        )
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{field}={str(value)!r} cannot be created: {str(existing)!r} is a file, expected a folder"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".structured-ssl-write-probe-", dir=existing)
    except OSError as error:
        raise ConfigError(
            f"{field}={str(value)!r} cannot be written ({error.strerror} in {str(existing)!r}): expected a folder "
            "this user may write, e.g. one under your home or scratch directory"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_prediction_folders(trainer: Any) -> None:
    """``predict``: every prediction writer's folder can be written, checked BEFORE inference
    (a read-only folder, or a file where the folder goes, once failed after all the work).
    The folder is the writer's ``output_dir``, else ``<log_dir>/predictions`` (the run's)."""
    for i, callback in enumerate(getattr(trainer, "callbacks", []) or []):
        if not hasattr(callback, "write_on_batch_end"):
            continue
        given = getattr(callback, "output_dir", None)
        folder = given or Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        field = (
            f"trainer.callbacks[{i}].init_args.output_dir"
            if given
            else f"{type(callback).__name__} output folder (the run's predictions/)"
        )
        check_writable_folder(field, folder)


def check_output_folders(config: Any) -> None:
    for field, value in _output_folders(config):
        check_writable_folder(field, value)


# --------------------------------------------------------------------------- dataset files
def check_dataset_files(config: Any) -> None:
    """The dataset's files, by the data module's own ``check_files``, when it may not download."""

    cls = import_class(str(lookup(config, "data.class_path") or ""))
    if (
        not isinstance(cls, type)
        or not getattr(cls, "needs_files", False)
        or not hasattr(cls, "check_files")
    ):
        return
    init_args = lookup(config, "data.init_args")
    kwargs = dict(init_args.as_dict() if hasattr(init_args, "as_dict") else init_args or {})
    defaults = {n: p.default for n, p in init_parameters(cls).items()}
    if kwargs.get("download", defaults.get("download", False)):
        return  # missing files will be fetched (and checked) in prepare_data
    data_dir = kwargs.get("data_dir", defaults.get("data_dir"))
    try:
        cls(**kwargs).check_files()
    except (DatasetNotFoundError, DatasetFormatError, FileNotFoundError) as error:
        message = " ".join(str(error).split())
        if message.startswith("data."):
            raise ConfigError(message) from None
        raise ConfigError(f"data.data_dir={str(data_dir)!r}: {message}") from None


def check_inputs(config: Any, data_files: bool = True) -> None:
    """Every file and folder check (after the single-field and model checks passed); the
    dataset's files only when the command will read them (``data_files``)."""
    check_output_folders(config)
    if data_files:
        check_dataset_files(config)
