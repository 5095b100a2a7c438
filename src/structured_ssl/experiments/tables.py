"""Mean ± std over seeds, and the Markdown/CSV writers the grid, studies and report share.

The paper reports every number as mean ± std over 3 runs; one helper makes every table of
ours say it the same way (sample std, n shown when fewer runs finished than were asked for).
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation of one cell's values (one per seed)."""

    mean: float
    std: float
    n: int

    def format(self, digits: int = 1, expected: int | None = None) -> str:
        """``68.2 ± 2.5``, with ``(n=2)`` when fewer than ``expected`` values exist; one value is
        ``85.2 (n=1)``: a single seed has no spread to show, and ``± 0.0`` would claim one."""
        if self.n == 1:
            return f"{self.mean:.{digits}f} (n=1)"
        text = f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        if expected is not None and self.n < expected:
            text += f" (n={self.n})"
        return text


def summarize(values: Iterable[float]) -> Summary | None:
    """None for no values; std 0 for a single value (nothing to spread)."""
    values = [float(v) for v in values]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Summary(statistics.fmean(values), std, len(values))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))
