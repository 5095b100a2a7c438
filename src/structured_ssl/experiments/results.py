"""Result files: one JSON per finished run, written atomically, read back with one-line errors.

Split from ``runs.py`` (which runs one fit + test in a fresh process): the grid, the studies
and the report read results without starting anything.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = "results"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file then rename: a crash never leaves a half-written result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def result_path(out: Path, key: str) -> Path:
    return Path(out) / RESULTS_DIR / f"{key}.json"


def refuse(message: str) -> None:
    """A sweep or report command's answer to a bad argument: one line on stderr, exit 2, before
    any folder is created or run started."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise SystemExit(2)


class ResultFileError(ValueError):
    """A result JSON that cannot be read: corrupt, truncated, or not a JSON object."""


def read_result(path: Path) -> dict[str, Any]:
    """One run's result JSON (plain data: reading it never runs code), or a one-line error
    naming the file."""
    try:
        data = json.loads(Path(path).read_bytes())
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ResultFileError(
            f"{path}: not a readable result JSON ({reason}); delete it to rerun that run"
        ) from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{path}: a result JSON holds an object, got {type(data).__name__}")
    return data


def load_results(out: Path) -> list[dict[str, Any]]:
    """Every finished run's result below ``OUT/results``."""
    root = Path(out) / RESULTS_DIR
    return [read_result(p) for p in sorted(root.rglob("*.json"))] if root.is_dir() else []


def metric_value(result: dict[str, Any], metric: str) -> float | None:
    """A metric from a result: test metrics first, then the end-of-fit ones."""
    for stage in ("test", "fit"):
        value = (result.get(stage) or {}).get(metric)
        if value is not None:
            return float(value)
    return None


def as_percent(metric: str, value: float) -> float:
    """Accuracies are stored as fractions and shown in %, other metrics as they are."""
    return 100.0 * value if metric.endswith("acc") else value


# ----------------------------------------------------------------------------- the parent side
