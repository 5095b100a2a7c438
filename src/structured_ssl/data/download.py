"""Fetching dataset files safely, and the two errors every real-dataset loader raises.

Nothing is downloaded unless asked (``data.download: true``). A download goes to a uniquely
named ``.part`` file in the target directory, is checked against its md5, and only then is
renamed into place (``os.replace`` is atomic), so an interrupted or corrupt download never
leaves a half-written file where a loader would trust it. Concurrent downloads by several
processes are safe for the same reason: each writes its own temporary file.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is missing and could not (or was not allowed to) be fetched."""


class DatasetFormatError(ValueError):
    """A dataset file exists but is not what its format promises (corrupt, truncated, wrong)."""


def md5sum(path: Path) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path: Path, md5: str) -> None:
    """Raise [`DatasetFormatError`][structured_ssl.data.download.DatasetFormatError] when ``path``'s
    md5 is not ``md5``."""
    actual = md5sum(path)
    if actual != md5.lower():
        raise DatasetFormatError(
            f"{path}: checksum mismatch (expected md5 {md5}, got {actual}); "
            "the file is corrupt or not the official one: delete it and fetch it again"
        )


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    On any error or interruption the temporary file is removed and ``path`` is untouched. A
    process killed mid-write (SIGKILL) cannot remove it: its name records the process id and
    host, and the next write into the folder removes it
    ([`remove_orphaned_parts`][structured_ssl.data.download.remove_orphaned_parts]).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_parts(path.parent)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.name}.{os.getpid()}@{socket.gethostname()}.",
        suffix=".part",
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: ``.<name>.<pid>@<host>.<random>.part``: a temporary file of
#: [`atomic_write`][structured_ssl.data.download.atomic_write]
_PART = re.compile(r"\..+\.(?P<pid>\d+)@(?P<host>[^/]+)\.[^.]+\.part")


def remove_orphaned_parts(folder: Path) -> list[Path]:
    """Remove the temporary files in ``folder`` left by processes of this host that no longer
    run (killed mid-write); a live writer's file, or another host's, is left alone."""
    removed = []
    host = socket.gethostname()
    for part in folder.glob(".*.part"):
        match = _PART.fullmatch(part.name)
        if match is None or match["host"] != host or _running(int(match["pid"])):
            continue
        part.unlink(missing_ok=True)
        removed.append(part)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True


def not_found_message(
    paths: list[Path], url: str, what: str = "file", can_download: bool = True
) -> str:
    """The message for a missing dataset: where it was expected, where it comes from, the fix."""
    where = ", ".join(str(p) for p in paths)
    missing_dirs = sorted({str(p.parent) for p in paths if not p.parent.is_dir()})
    note = f" (directory {', '.join(missing_dirs)} does not exist)" if missing_dirs else ""
    fix = (
        "Set `data.download: true` to fetch it, or place it at that path yourself"
        if can_download
        else "Download and extract it there yourself (it is not fetched automatically)"
    )
    return (
        f"dataset {what} not found: expected {where}{note}. It comes from {url}. "
        f"{fix} (or point data.data_dir at the directory holding it)."
    )


def _download(url: str, path: Path, md5: str | None) -> None:
    log.info("downloading %s to %s", url, path)
    try:
        with atomic_write(path) as out:
            digest = hashlib.md5(usedforsecurity=False)
            with urllib.request.urlopen(url, timeout=60) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if md5 is not None and digest.hexdigest() != md5.lower():
                raise DatasetFormatError(
                    f"{path}: checksum mismatch after downloading {url} (expected md5 {md5}, "
                    f"got {digest.hexdigest()}); the partial file was removed"
                )
    except (OSError, http.client.HTTPException) as err:
        if isinstance(err, urllib.error.HTTPError):
            reason = f"HTTP {err.code} {err.reason}"
        elif isinstance(err, urllib.error.URLError):
            reason = str(err.reason)
        else:
            reason = f"{type(err).__name__}: {err}"
        raise DatasetNotFoundError(
            f"could not download {url} to {path} ({reason}); nothing was written. "
            f"Retry, or fetch the file by other means and place it at {path}."
        ) from err


def fetch_file(
    path: Path,
    url: str,
    md5: str | None,
    download: bool,
    verify_existing: bool = False,
) -> Path:
    """Return ``path``, downloading it from ``url`` first when missing and ``download`` is set.

    Args:
        path: where the file must be.
        url: where it comes from.
        md5: expected hex md5, or None to skip checking. A fresh download is always checked.
        download: whether fetching is allowed; if not, a missing file raises
            [`DatasetNotFoundError`][structured_ssl.data.download.DatasetNotFoundError] naming the
            path, the URL and the fix.
        verify_existing: also check the md5 of a file that is already there. Off by default:
            the format parsers catch corruption without re-hashing large files at every load.

    Raises:
        DatasetNotFoundError: missing and not allowed to download, or the download failed.
        DatasetFormatError: the md5 does not match.
    """
    path = Path(path)
    if path.is_file():
        if verify_existing and md5 is not None:
            check_md5(path, md5)
        return path
    if not download:
        raise DatasetNotFoundError(not_found_message([path], url))
    _download(url, path, md5)
    return path


def cached_arrays(
    cache: Path, fingerprint: str, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Load arrays from the ``.npz`` ``cache`` if its fingerprint matches, else build and save.

    The cache is written atomically; if the directory is read-only the arrays are simply
    not cached. Delete the cache file to force a rebuild.
    """
    import numpy as np

    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                if str(stored["fingerprint"]) == fingerprint:
                    return {k: stored[k] for k in stored.files if k != "fingerprint"}
        except (OSError, ValueError, KeyError, EOFError) as err:
            log.warning("ignoring unreadable cache %s (%s); rebuilding it", cache, err)
    arrays = build()
    try:
        with atomic_write(cache) as f:
            np.savez(f, fingerprint=np.array(fingerprint), **arrays)
    except OSError as err:
        log.warning("could not write cache %s (%s); continuing without it", cache, err)
    return arrays


def file_fingerprint(*paths: Path) -> str:
    """A cheap identity of files (name, size, modification time) for cache invalidation."""
    parts = []
    for p in paths:
        st = Path(p).stat()
        parts.append(f"{Path(p).name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)
