"""The online equivariance monitor's last values per grid cell (mean over seeds), from a grid's
result files: what the encoders H-SSL and A-SSL trained read at the end of training.

    python scripts/monitor_table.py results/paper-mnist-small-v3 > docs/results/paper-mnist-small-v3/monitor.md
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

KEYS = ("val/equivariance_error", "val/fiber_equivariance_error", "val/no_shift_fiber_error")


def main(results_dir: Path) -> str:
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path in sorted((results_dir / "results").rglob("seed*.json")):
        run = json.loads(path.read_text())
        fit = run.get("fit") or {}
        if all(k in fit for k in KEYS):
            cells[(run["objective"], run["group"])].append(fit)
    lines = [
        "| objective | group | runs | lifted error | fiber error | no-shift fiber error |",
        "|---|---|---|---|---|---|",
    ]
    for (objective, group), fits in sorted(cells.items()):
        means = [statistics.fmean(float(f[k]) for f in fits) for k in KEYS]
        lines.append(
            f"| {objective} | {group} | {len(fits)} | "
            + " | ".join(f"{m:.3g}" for m in means)
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(Path(sys.argv[1])), end="")
