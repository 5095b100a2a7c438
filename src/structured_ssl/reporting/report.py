"""``structured-ssl report``: our grid beside the paper's Tables 1 and 2, and Figure 2.

Each finished run is placed by what it really trained (recorded by the run itself, not
guessed from file names): the objective class gives the column (A-SSL, H-SSL, Frozen,
Supervised), ``encoder.structured`` the table (1: equivariant backbone, 2: structure
removed), the dataset and group kind the row. Every cell shows our mean ± std over seeds,
the paper's value (``paper_results.json``: Keller, Suau, Zappella, TMLR 2023, arXiv
2211.08282) and the difference. The embedded digits stand in for MNIST and say so.

    structured-ssl report results/grid-digits [--studies results/study-g0 results/study-distance] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from structured_ssl.experiments.results import (
    ResultFileError,
    as_percent,
    load_results,
    metric_value,
    refuse,
)
from structured_ssl.experiments.study import plot_summary, study_rows_problem
from structured_ssl.experiments.tables import (
    Summary,
    markdown_table,
    read_csv,
    summarize,
    write_csv,
)
from structured_ssl.groups import Group

COLUMNS = ("A-SSL", "H-SSL", "Frozen", "Supervised")
CLASS_COLUMNS = {
    "AugmentationSSL": "A-SSL",
    "StructuredSSL": "H-SSL",
    "Frozen": "Frozen",
    "Supervised": "Supervised",
    "HybridSSL": "Hybrid",
}
OBJECTIVE_COLUMNS = {
    "augmentation": "A-SSL",
    "structured": "H-SSL",
    "unstructured": "H-SSL",
    "frozen": "Frozen",
    "supervised": "Supervised",
    "hybrid": "Hybrid",
}
#: our datasets -> the paper's row they are compared with
PAPER_DATASET = {
    "digits": "mnist",
    "mnist": "mnist",
    "cifar10": "cifar10",
    "tiny_imagenet": "tiny_imagenet",
}
DATASET_NAMES = {
    "digits": "digits (vs MNIST)",
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "tiny_imagenet": "Tiny ImageNet",
}
#: the DataModule each dataset name stands for; a run on another one (an overlay swapped it) says so
EXPECTED_DATA = {
    "digits": ("DigitsDataModule",),
    "mnist": ("MNISTDataModule", "RotatedMNISTDataModule"),
    "cifar10": ("CIFAR10DataModule",),
    "tiny_imagenet": ("TinyImageNetDataModule",),
}
FIGURE2 = {"g0_size": "figure2_g0_size.png", "max_distance": "figure2_max_distance.png"}


def paper_results() -> dict[str, Any]:
    """The paper's numbers, shipped with the package."""
    return json.loads(resources.files("structured_ssl").joinpath("paper_results.json").read_text())


@dataclass(frozen=True)
class Placement:
    """Where one run goes: table (1 or 2), row (dataset, group kind), column."""

    table: int
    dataset: str
    group: str
    column: str


def place(result: dict[str, Any]) -> Placement:
    """Classify a run by what it trained; fall back on its cell name for old results."""
    model = result.get("model") or {}
    objective = str(result.get("objective", ""))
    group_name = str(result.get("group", ""))
    column = CLASS_COLUMNS.get(model.get("class", ""), OBJECTIVE_COLUMNS.get(objective, objective))
    spec = model.get("encoder_spec") or {}
    if "structured" in spec:
        structured = bool(spec["structured"])
    else:
        structured = objective != "unstructured" and not group_name.endswith("_unstructured")
    kind = (model.get("group") or {}).get("kind") or group_name.removesuffix("_unstructured")
    return Placement(1 if structured else 2, str(result.get("dataset", "")), kind, column)


def group_label(results: Sequence[dict[str, Any]], kind: str) -> str:
    """``rotation (C8)``: the orders our runs used, so a C8-vs-C4 comparison is visible."""
    shorts = set()
    for r in results:
        group = (r.get("model") or {}).get("group") or {}
        if group.get("kind") != kind:
            continue
        try:
            short = Group.from_config(group).short_name
        except ValueError:  # a group this installation does not have
            continue
        if short != "T":
            shorts.add(short)
    return f"{kind} ({', '.join(sorted(shorts))})" if shorts else kind


# ----------------------------------------------------------------------------- the tables
@dataclass
class Row:
    table: int
    dataset: str
    group: str
    backbone: str
    paper: dict[str, dict[str, float]]
    ours: dict[str, Summary]


def collect(results: Sequence[dict[str, Any]], metric: str) -> dict[Placement, list[float]]:
    cells: dict[Placement, list[float]] = {}
    for result in results:
        value = metric_value(result, metric)
        if value is not None:
            cells.setdefault(place(result), []).append(as_percent(metric, value))
    return cells


def build_rows(results: Sequence[dict[str, Any]], metric: str, paper: dict[str, Any]) -> list[Row]:
    """Paper rows for every dataset we ran (so gaps show), then rows only we have."""
    cells = collect(results, metric)
    ours_datasets = list(dict.fromkeys(p.dataset for p in cells))
    rows: list[Row] = []
    seen: set[tuple[int, str, str]] = set()
    for table_number, table_name in ((1, "table1"), (2, "table2")):
        paper_rows = paper["tables"][table_name]["rows"]
        for dataset in ours_datasets:
            for entry in paper_rows:
                if PAPER_DATASET.get(dataset) != entry["data"]:
                    continue
                key = (table_number, dataset, entry["group"])
                if table_number == 2 and not any(
                    p.table == 2 and p.dataset == dataset for p in cells
                ):
                    continue
                seen.add(key)
                rows.append(
                    Row(
                        table_number,
                        dataset,
                        entry["group"],
                        entry["backbone"],
                        entry["results"],
                        {},
                    )
                )
        extra = sorted(
            {(p.table, p.dataset, p.group) for p in cells if p.table == table_number} - seen
        )
        rows += [Row(t, d, g, "", {}, {}) for t, d, g in extra]
    for row in rows:
        for placement, values in cells.items():
            if (placement.table, placement.dataset, placement.group) == (
                row.table,
                row.dataset,
                row.group,
            ):
                summary = summarize(values)
                if summary is not None:
                    row.ours[placement.column] = summary
    return rows


def cell_text(ours: Summary | None, paper: dict[str, float] | None) -> str:
    """``ours 70.1 ± 2.0 · paper 68.2 ± 2.5 · Δ +1.9``."""
    parts = [
        f"ours {ours.format(digits=1)}" + (f" (n={ours.n})" if ours.n not in (1, 3) else "")
        if ours
        else "ours —"
    ]
    if paper:
        parts.append(f"paper {paper['mean']:.1f} ± {paper['std']:.1f}")
        if ours:
            parts.append(f"Δ {ours.mean - paper['mean']:+.1f}")
    else:
        parts.append("paper —")
    return " · ".join(parts)


def frozen_note(row: Row) -> str:
    """The paper's honesty check: does the random backbone beat both SSL objectives?"""

    def beats(values: dict[str, float | None]) -> str:
        frozen, ssl = values.get("Frozen"), [values.get(c) for c in ("A-SSL", "H-SSL")]
        if frozen is None or any(v is None for v in ssl):
            return "?"
        return "yes" if frozen >= max(v for v in ssl if v is not None) else "no"

    ours = beats(
        {
            c: (s.mean if s else None)
            for c, s in ((c, row.ours.get(c)) for c in ("Frozen", "A-SSL", "H-SSL"))
        }
    )
    paper = beats(
        {
            c: (row.paper[c]["mean"] if c in row.paper else None)
            for c in ("Frozen", "A-SSL", "H-SSL")
        }
    )
    return f"ours {ours} / paper {paper}"


def render(
    rows: Sequence[Row], results: Sequence[dict[str, Any]], metric: str, paper: dict[str, Any]
) -> tuple[str, list[list[Any]]]:
    """Markdown of both tables and the long-form CSV rows."""
    extra_columns = sorted({c for r in rows for c in r.ours} - set(COLUMNS))
    columns = [*COLUMNS, *extra_columns]
    sections = [
        f"Metric: {metric} (%), our mean ± std over seeds beside the paper's (mean ± std over 3 runs).",
        f"Paper: {paper['source']}",
    ]
    data_classes = {r.get("dataset"): (r.get("data") or {}).get("class") for r in results}
    notes = [f"{d}: trained on {c}" for d, c in data_classes.items() if c and d != "digits"]
    if "digits" in data_classes:
        notes.append(
            "digits: scikit-learn's 8x8 digits, compared with the paper's MNIST row (a stand-in, not MNIST)"
        )

    def data_label(dataset: str) -> str:
        label = DATASET_NAMES.get(dataset, dataset)
        used = data_classes.get(dataset)
        if used and used not in EXPECTED_DATA.get(dataset, (used,)):
            label += f" (run on {used})"
        return label

    sections += [f"Data: {'; '.join(notes)}."] if notes else []
    csv_rows: list[list[Any]] = []
    for table_number, title in (
        (1, paper["tables"]["table1"]["title"]),
        (2, paper["tables"]["table2"]["title"]),
    ):
        table_rows = [r for r in rows if r.table == table_number]
        if not table_rows:
            sections.append(f"## {title}\n\nNo runs of ours belong here.")
            continue
        header = ["data", "group", "paper backbone", *columns, "Frozen >= both SSL?"]
        lines = []
        for row in table_rows:
            lines.append(
                [
                    data_label(row.dataset),
                    group_label([r for r in results if place(r).dataset == row.dataset], row.group),
                    row.backbone or "(not in the paper)",
                    *(cell_text(row.ours.get(c), row.paper.get(c)) for c in columns),
                    frozen_note(row),
                ]
            )
            for column in columns:
                ours, theirs = row.ours.get(column), row.paper.get(column)
                csv_rows.append(
                    [
                        table_number,
                        row.dataset,
                        PAPER_DATASET.get(row.dataset, ""),
                        row.group,
                        column,
                        ours.mean if ours else "",
                        ours.std if ours else "",
                        ours.n if ours else 0,
                        theirs["mean"] if theirs else "",
                        theirs["std"] if theirs else "",
                        (ours.mean - theirs["mean"]) if ours and theirs else "",
                    ]
                )
        sections.append(f"## {title}\n\n" + markdown_table(header, lines))
    return "\n\n".join(sections), csv_rows


CSV_HEADER = [
    "table",
    "data",
    "paper_data",
    "group",
    "column",
    "ours_mean",
    "ours_std",
    "ours_n",
    "paper_mean",
    "paper_std",
    "difference",
]


# ----------------------------------------------------------------------------- Figure 2
def draw_studies(studies: Sequence[Path], out: Path) -> list[Path]:
    """One PNG per study folder: Figure 2's |g0| and max-distance panels, others by name."""

    drawn = []
    for folder in studies:
        summary = Path(folder) / "summary.csv"
        if not summary.exists():
            print(f"  no {summary}: study skipped")
            continue
        rows = read_csv(summary)
        if not rows:
            continue
        unreadable = study_rows_problem(rows)
        if unreadable:
            print(f"  {summary}: {unreadable}: study skipped")
            continue
        parameter = rows[0]["parameter"]
        name = FIGURE2.get(parameter, f"study_{parameter}.png")
        where = f"{rows[0].get('dataset', '')}, {rows[0].get('group', '')}"
        title = {
            "g0_size": "Figure 2 (left): base-space size |g0|",
            "max_distance": "Figure 2 (right): max topographic distance",
        }.get(parameter, parameter)
        drawn.append(plot_summary(rows, Path(out) / name, title=f"{title}\n{where}"))
    return drawn


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="structured-ssl report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "grids", nargs="*", type=Path, help="grid output folders (OUT of `structured-ssl grid`)"
    )
    parser.add_argument(
        "--studies", nargs="*", type=Path, default=[], help="study output folders (Figure 2)"
    )
    parser.add_argument("--metric", default="test/linear_acc")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where report.md/csv and PNGs go (default: the first grid)",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not args.grids and not args.studies:
        parser.error("give at least one grid folder or --studies")
    absent = [str(folder) for folder in (*args.grids, *args.studies) if not folder.is_dir()]
    if absent:
        refuse(
            f"{', '.join(absent)}: not a folder (give the OUT of `structured-ssl grid` / `study`)"
        )
    out: Path = args.out or (args.grids[0] if args.grids else args.studies[0])
    paper = paper_results()
    try:  # every result read (and its types checked) before anything is written
        results = [r for folder in args.grids for r in load_results(folder) if "parameter" not in r]
    except ResultFileError as error:
        refuse(str(error))
    if args.grids and not results:
        raise SystemExit(
            f"no finished runs under {[str(g) for g in args.grids]} (results/**/*.json)"
        )
    out.mkdir(parents=True, exist_ok=True)
    if args.grids:
        rows = build_rows(results, args.metric, paper)
        text, csv_rows = render(rows, results, args.metric, paper)
        (out / "report.md").write_text(text + "\n")
        write_csv(out / "report.csv", CSV_HEADER, csv_rows)
        print(text + "\n")
        print(f"wrote {out / 'report.md'}, {out / 'report.csv'}")
    for path in draw_studies(args.studies, out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
