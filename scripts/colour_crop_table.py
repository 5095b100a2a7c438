"""The colour/crop table (docs/reports/colour-and-crop.md) from a grid's result files.

Usage: ``python scripts/colour_crop_table.py results/colour-crop docs/results/colour-crop``.
Reads every ``OUT/results/colour_digits/<objective>_<group>/seed*.json`` the grid wrote and
writes ``table.md`` (linear test accuracy mean ± std over seeds per objective and group, the
H-SSL / A-SSL training-step-time ratio per group, the hue twin and the plain CNN with colour
jitter + crop at their step cost) and ``runs.csv`` (one row per run) to the target folder.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

GROUPS = {"hue": "hue C4", "crop": "crop S4xT", "hue_crop": "hue x crop H3xS3xT"}
OBJECTIVES = {
    "augmentation": "A-SSL",
    "structured": "H-SSL",
    "frozen": "Frozen",
    "supervised": "Supervised",
}
EXTRA = {
    ("unstructured", "hue"): "H-SSL on the hue cell's structure-free twin",
    ("jitter", "plain"): "plain CNN, A-SSL + kornia colour jitter + crop",
    ("augmentation", "hue"): "hue C4, A-SSL (hue-shifted views)",
    ("structured", "hue"): "hue C4, H-SSL (one lifted pass)",
}


def load(out: Path) -> dict[tuple[str, str], list[dict]]:
    runs: dict[tuple[str, str], list[dict]] = {}
    for path in sorted((out / "results" / "colour_digits").rglob("seed*.json")):
        result = json.loads(path.read_text())
        if not result.get("test"):
            continue  # a run still in progress (fit done, not yet tested)
        runs.setdefault((result["objective"], result["group"]), []).append(result)
    return runs


def accuracy(results: list[dict]) -> str:
    values = [
        100 * r["test"]["test/linear_acc"]
        for r in results
        if "test/linear_acc" in (r.get("test") or {})
    ]
    if not values:
        return "—"
    spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.1f}{spread} (n={len(values)})"


def step_s(results: list[dict]) -> float | None:
    values = [r["fit"]["train_step_s"] for r in results if "train_step_s" in (r.get("fit") or {})]
    return statistics.mean(values) if values else None


def fiber_error(results: list[dict]) -> str:
    values = [r["fit"].get("val/fiber_equivariance_error") for r in results]
    values = [v for v in values if v is not None]
    return f"{statistics.mean(values):.2g}" if values else "—"


def table(runs: dict[tuple[str, str], list[dict]]) -> str:
    head = ["group", *OBJECTIVES.values(), "H-SSL / A-SSL step time", "H-SSL val fiber error"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for group, label in GROUPS.items():
        cells = [accuracy(runs.get((o, group), [])) for o in OBJECTIVES]
        a, h = (
            step_s(runs.get(("augmentation", group), [])),
            step_s(runs.get(("structured", group), [])),
        )
        ratio = f"{h / a:.2f} ({h:.2f} s / {a:.2f} s)" if a and h else "—"
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {ratio} | {fiber_error(runs.get(('structured', group), []))} |"
        )
    lines += [
        "",
        "| run | linear test acc (%) | training step s | val fiber error |",
        "| --- | --- | --- | --- |",
    ]
    for key, label in EXTRA.items():
        results = runs.get(key, [])
        seconds = step_s(results)
        lines.append(
            f"| {label} | {accuracy(results)} | {f'{seconds:.2f}' if seconds else '—'} | {fiber_error(results)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    out, target = Path(argv[0]), Path(argv[1])
    runs = load(out)
    target.mkdir(parents=True, exist_ok=True)
    total = sum(len(v) for v in runs.values())
    seconds = sum(r["wall_time_s"].get("process", 0.0) for v in runs.values() for r in v)
    (target / "table.md").write_text(
        "## Colour digits: linear test accuracy (%), mean ± std over seeds\n\n"
        + table(runs)
        + f"\n{total} runs, {seconds / 60:.0f} min of process time; 3 epochs each (commands.sh).\n"
    )
    with (target / "runs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "objective",
                "group",
                "seed",
                "test/linear_acc",
                "train_step_s",
                "val/fiber_equivariance_error",
                "process_s",
            ]
        )
        for (objective, group), results in sorted(runs.items()):
            for r in sorted(results, key=lambda r: r["seed"]):
                writer.writerow([
                    objective, group, r["seed"], (r.get("test") or {}).get("test/linear_acc"),
                    r["fit"].get("train_step_s"), r["fit"].get("val/fiber_equivariance_error"),
                    r["wall_time_s"].get("process"),
                ])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
