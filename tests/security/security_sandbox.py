"""The sandbox of the security tests: a live pickle payload, and a run directory outside of
which nothing may change (see tests/security/test_security.py and tests/security/test_security_data.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest


class Payload:
    """Unpickled by the full unpickler, this runs a shell command creating ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@dataclass
class Sandbox:
    """``run``: the working directory a command may write to. ``outside``: where the payload
    aims, next to the crafted files; neither it nor anything else outside ``run`` may change
    after :meth:`seal`."""

    root: Path
    run: Path
    marker: Path
    sealed: dict[str, tuple[int, int]] | None = None

    def files_outside_run(self) -> dict[str, tuple[int, int]]:
        return {
            str(p.relative_to(self.root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in self.root.rglob("*")
            if self.run not in p.parents and p != self.run
        }

    def seal(self) -> None:
        """The crafted files are in place: from now on nothing outside ``run`` may change."""
        self.sealed = self.files_outside_run()

    def check(self) -> None:
        """No code ran, and nothing outside ``run`` changed since :meth:`seal`."""
        assert not self.marker.exists(), "the payload ran"
        assert self.sealed is not None, "the test never sealed its sandbox"
        assert self.files_outside_run() == self.sealed, (
            "something outside the run directory was written"
        )


def make_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """``tmp_path/run`` (the working directory) and ``tmp_path/outside`` (the payload's aim)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "outside").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    return Sandbox(tmp_path, tmp_path / "run", tmp_path / "outside" / "marker")


def one_line_naming(message: str, path: Path | str) -> str:
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert str(path) in message, f"{path} not named in: {message!r}"
    return message
