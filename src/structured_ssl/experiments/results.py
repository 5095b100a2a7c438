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
    check_result_types(path, data)
    return data


#: the fields the grid, the studies and the report read, and the JSON type each must have
TEXT_FIELDS = ("dataset", "objective", "group", "parameter")
NUMBER_SECTIONS = ("test", "fit")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_result_types(path: Path, data: dict[str, Any]) -> None:
    """The fields that tables are built from have the types they are read as (a string where
    a number belongs once ended the report in a traceback): one line naming file and field."""

    def wrong(field: str, value: Any, expected: str) -> ResultFileError:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ResultFileError(
            f"{path}: {field}={shown} is not allowed: expected {expected}; fix or delete the "
            "file (a deleted result is rerun)"
        )

    for field in TEXT_FIELDS:
        if field in data and not isinstance(data[field], str):
            raise wrong(field, data[field], "a string")
    if "seed" in data and not (
        isinstance(data["seed"], int) and not isinstance(data["seed"], bool)
    ):
        raise wrong("seed", data["seed"], "an integer")
    for section in NUMBER_SECTIONS:
        metrics = data.get(section)
        if metrics is None:
            continue
        if not isinstance(metrics, dict):
            raise wrong(section, metrics, "an object of metric names to numbers")
        for name, value in metrics.items():
            if value is not None and not _is_number(value):
                raise wrong(f"{section}.{name}", value, "a number or null")
    for section in ("model", "data"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise wrong(section, data[section], "an object")


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
