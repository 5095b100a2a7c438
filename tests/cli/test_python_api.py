"""docs/guides/python-api.md runs as written, and the public API imports without circles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "guides" / "python-api.md"


def test_every_python_block_of_the_guide_runs_without_a_warning(tmp_path: Path) -> None:
    """The page's blocks, in order, in a fresh interpreter where any warning is an error
    (``-W error``; deprecations of libraries' own internals aside, hidden by default too)."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 3
    script = tmp_path / "guide.py"
    script.write_text("\n".join(blocks))
    done = subprocess.run(
        [sys.executable, "-W", "error", "-W", "ignore::DeprecationWarning", str(script)],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    warned = [line for line in done.stderr.splitlines() if re.search(r"Warning|\.py:\d+: ", line)]
    assert warned == [], warned


def test_public_names_resolve_in_a_fresh_interpreter() -> None:
    code = "import structured_ssl as s; [getattr(s, n) for n in s.__all__]; print(len(s.__all__))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 0, done.stderr
