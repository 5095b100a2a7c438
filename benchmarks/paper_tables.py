"""The paper-backbone tables of docs/reports/paper-backbones.md, rendered from the committed benchmark results.

python benchmarks/build_time.py --json docs/results/build_time.json
python benchmarks/paper_cost.py --json docs/results/paper_cost.json
python benchmarks/paper_tables.py            # prints the tables docs/reports/paper-backbones.md shows
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def parameter_table(rows: list[dict]) -> str:
    """Structured backbone (default construction), escnn's option, Table 2 twin, per group."""
    cells: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        key = "twin" if not r["structured"] else (r.get("rotation_conv") or "default")
        cells.setdefault((r["backbone"], r["group"]), {})[key] = r
    out = []
    for (backbone, group), c in cells.items():
        structured = c.get("sesn_copies") or c["default"]
        escnn = c.get("escnn")
        twin = c["twin"]
        out.append(
            [
                backbone,
                group,
                f"{structured['parameters']:,}",
                f"{escnn['parameters']:,}" if escnn else "-",
                twin["encoder"],
                f"{twin['parameters']:,}",
                f"{twin['parameters'] / structured['parameters']:.2f}",
                f"{max(r['seconds'] for r in c.values()):.1f} / {max(r['cpu_seconds'] for r in c.values()):.1f}",
            ]
        )
    return table(
        [
            "backbone",
            "group",
            "params (default)",
            "params (escnn)",
            "Table 2 twin",
            "twin params",
            "twin / default",
            "slowest build s, wall / CPU",
        ],
        out,
    )


def main() -> None:
    build = json.loads((RESULTS / "build_time.json").read_text())
    print(f"Parameters and build time ({build['machine']}):\n")
    print(parameter_table(build["rows"]))
    from paper_cost import render

    for name, title in (
        ("paper_cost.json", "Cost against the paper's SESN construction"),
        ("paper_cost_steps.json", "With a CPU training step"),
    ):
        if (RESULTS / name).exists():
            cost = json.loads((RESULTS / name).read_text())
            print(f"\n{title} ({cost['machine']}; docs/results/{name}):\n")
            print(render(cost["rows"]))


if __name__ == "__main__":
    main()
