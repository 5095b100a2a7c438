"""A new file or folder name is claimed by creating it, so two runs never write into one.

Why: Lightning picks ``version_<n+1>`` by listing the run folder and creates it only when it
first writes; two ``fit`` started at once both picked ``version_0`` and shared one ``last.ckpt``
and one ``config.yaml``, both exiting 0. Here creating the name IS the claim: ``os.mkdir`` and
``open(..., "x")`` are atomic on a local or NFS file system, so the second process gets
`FileExistsError` and takes the next name. Used for version folders
([`RunTensorBoardLogger`][structured_ssl.callbacks.tb_logging.RunTensorBoardLogger]), the config of
each ``fit``/``test``/``validate``/``predict``
([`structured_ssl.experiments.run_config`][structured_ssl.experiments.run_config]) and the folder of
each ``predict``'s embeddings
([`structured_ssl.callbacks.prediction_writer`][structured_ssl.callbacks.prediction_writer]).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

#: a guard against a loop over names that all exist (a folder of a million versions)
MAX_TRIES = 100_000


def numbered(first: str, stem: str, suffix: str = "") -> Iterator[str]:
    """``first``, then ``<stem>-2<suffix>``, ``<stem>-3<suffix>``, ... (the names to try in order)."""
    yield first
    for n in itertools.count(2):
        yield f"{stem}-{n}{suffix}"


def claim_folder(parent: Path, names: Iterable[str]) -> Path:
    """Create and return the first folder of ``names`` below ``parent`` that no one has created."""
    parent.mkdir(parents=True, exist_ok=True)
    for name in itertools.islice(names, MAX_TRIES):
        try:
            (parent / name).mkdir()
        except FileExistsError:
            continue
        return parent / name
    raise FileExistsError(f"{parent}: {MAX_TRIES} names taken, none left to claim")


def claim_file(parent: Path, names: Iterable[str]) -> Path:
    """Create (empty) and return the first file of ``names`` in ``parent`` that does not exist."""
    parent.mkdir(parents=True, exist_ok=True)
    for name in itertools.islice(names, MAX_TRIES):
        try:
            fd = os.open(parent / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return parent / name
    raise FileExistsError(f"{parent}: {MAX_TRIES} names taken, none left to claim")


def claim_version(root: Path, start: int) -> int:
    """The first ``version_<n>`` folder (n >= ``start``) this process created below ``root``."""
    folder = claim_folder(root, (f"version_{n}" for n in itertools.count(start)))
    return int(folder.name.removeprefix("version_"))
