"""docs/guides/python-api.md runs as written, and the public API imports without circles."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "guides" / "python-api.md"


def test_every_python_block_of_the_guide_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), {"__name__": "guide"})


def test_public_names_resolve_in_a_fresh_interpreter() -> None:
    code = "import structured_ssl as s; [getattr(s, n) for n in s.__all__]; print(len(s.__all__))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 0, done.stderr
