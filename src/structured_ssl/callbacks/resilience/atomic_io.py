"""Atomic checkpoint writes: a kill mid-write never leaves a truncated ``last.ckpt``.

Lightning writes through an fsspec transaction whose temporary file lives in the system temp
dir; when that is another filesystem (node-local /tmp, shared checkpoint dir) the final move is
a copy, and a kill mid-copy leaves a partial file.
[`AtomicCheckpointIO`][structured_ssl.callbacks.resilience.atomic_io.AtomicCheckpointIO] writes
beside the target, fsyncs, then ``os.replace``s; it also reads every checkpoint without running
code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem

from structured_ssl.callbacks.write_faults import RecordingWriter, write_fault
from structured_ssl.data.download import atomic_write
from structured_ssl.methods.checkpoints import (
    CKPT_PATH_TRUST_HINT,
    allowed_project_types,
    load_checkpoint,
    refusal,
)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Local checkpoints are written to a temporary file in the SAME directory, flushed to disk,
    then renamed over the target: a reader sees the old file or the new one, never a partial one,
    even when the process is killed mid-write. Remote (fsspec) paths use Lightning's writer.

    Checkpoints are read (``--ckpt_path`` of fit, validate, test, predict) without running
    code, local or remote ([`load_checkpoint`][structured_ssl.methods.checkpoints.load_checkpoint]),
    whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says, unless the user passes
    ``--weights_only=false``.
    """

    def load_checkpoint(
        self,
        path: Any,
        map_location: Any | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(get_filesystem(path), LocalFileSystem):
            if not os.path.exists(path):
                raise FileNotFoundError(f"Checkpoint file not found: {path}")
            return load_checkpoint(
                path,
                trust=weights_only is False,
                trust_hint=CKPT_PATH_TRUST_HINT,
                map_location=map_location,
            )
        # remote (fsspec, http): Lightning would default URLs to the full unpickler
        with allowed_project_types():
            try:
                return super().load_checkpoint(path, map_location, weights_only is not False)
            except pickle.UnpicklingError as error:
                raise refusal(path, error, CKPT_PATH_TRUST_HINT) from None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        from fsspec.implementations.local import LocalFileSystem

        if not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__} takes no storage_options, got {storage_options!r}"
            )
        target = Path(os.fspath(path))
        writer = None
        try:
            with atomic_write(target) as f:
                writer = RecordingWriter(f)
                self.write(checkpoint, writer)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:  # a full disk, a quota, a name too long: one line, what is kept
            raise write_fault(target, error, "checkpoint") from error
        except RuntimeError as error:  # torch's zip writer hides the OSError of a failed write
            if writer is None or writer.error is None:
                raise
            raise write_fault(target, writer.error, "checkpoint") from error
        _fsync_directory(target.parent)

    def write(self, checkpoint: dict[str, Any], file: Any) -> None:
        """The bytes of one checkpoint into an open file (a seam for fault-injection tests)."""
        torch.save(checkpoint, file)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
