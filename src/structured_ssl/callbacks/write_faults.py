"""A write the file system refuses (full disk, quota, name too long, read-only) is ONE line
that says what failed and what is already saved, and where.

Why: a full ``default_root_dir`` ended a run in a 100-line ``OSError: No space left on device``
traceback from inside ``torch.save`` that named no path, and a user could not tell whether the
earlier checkpoints were still good. Every file the library writes during a run (checkpoints,
configs, embeddings) is written to a temporary file and renamed into place, so a failed write
leaves the previous file as it was; [`WriteFault`][structured_ssl.callbacks.write_faults.WriteFault]
says so, lists the files kept beside the one that failed, and the CLI prints it as one ``error:``
line (exit status 1).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from structured_ssl.config.causes import cause_of

#: what to do, by cause
ADVICE = {
    errno.ENOSPC: "free space there or choose another --trainer.default_root_dir",
    errno.EDQUOT: "free space in your quota or choose another --trainer.default_root_dir",
    errno.ENAMETOOLONG: "use shorter folder and file names",
    errno.EROFS: "choose a folder on a writable file system",
    errno.EACCES: "choose a folder you may write",
}


class WriteFault(OSError):
    """A file the run writes could not be written; the message is the one line to print."""


class RecordingWriter:
    """The file torch.save writes to, keeping the OSError of a failed write: torch's zip writer
    reports it only as ``RuntimeError: [enforce fail ...] unexpected pos`` (a full disk)."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.file.flush()


def kept_files(folder: Path, limit: int = 6) -> str:
    """The files already saved in ``folder`` (newest first), for the message."""
    try:
        files = sorted(
            (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return f"{folder} cannot be listed"
    if not files:
        return f"nothing was saved in {folder} before"
    names = ", ".join(p.name for p in files[:limit]) + (" ..." if len(files) > limit else "")
    return f"kept, unchanged, in {folder}: {names}"


def write_fault(path: str | os.PathLike[str], error: OSError, what: str) -> WriteFault:
    """The [`WriteFault`][structured_ssl.callbacks.write_faults.WriteFault] for ``error`` while
    writing ``what`` (``"checkpoint"``) to ``path``."""
    target = Path(os.fspath(path))
    code = errno.errorcode.get(error.errno or 0, "")
    reason = f"{error.strerror or error} [{code}]" if code else str(error.strerror or error)
    advice = ADVICE.get(error.errno or 0, "check the folder")
    resume = "; then resume with --ckpt_path last" if what == "checkpoint" else ""
    fault = WriteFault(
        f"could not write the {what} {target}: {reason}; no partial file was left and the previous "
        f"{target.name} (if any) is unchanged; {kept_files(target.parent)}; {advice}{resume}"
    )
    fault.errno = error.errno
    return fault


def fault_in(error: BaseException) -> WriteFault | None:
    """The [`WriteFault`][structured_ssl.callbacks.write_faults.WriteFault] in ``error``'s cause
    chain (Lightning re-raises hook errors)."""
    return cause_of(error, WriteFault)
