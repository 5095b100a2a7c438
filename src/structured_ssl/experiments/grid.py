"""``structured-ssl grid``: the paper's experiment grid, one isolated run per cell and seed.

A cell is composed from config axes ([`structured_ssl.config.cells`][structured_ssl.config.cells]):
the objective, dataset and group files that ``<configs>/cells.yaml`` names for it, merged in order;
adding a group or a dataset is one file plus its line in ``cells.yaml``.
For each cell and seed it runs ``fit`` then ``test`` in a fresh process
([`structured_ssl.experiments.runs`][structured_ssl.experiments.runs]), keeps one result JSON per
run (a rerun skips finished runs, so an interrupted grid resumes), and writes the table in the
paper's shape: rows are objectives, columns dataset x group, cells mean ± std over seeds of the
chosen metric.

    structured-ssl grid --dataset digits --objectives structured augmentation \\
        --groups rotation translation scale --seeds 0 1 2 --epochs 30 --out results/grid-digits
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from structured_ssl.config.cells import MANIFEST, Cell, CellError, unknown_axis_names
from structured_ssl.config.field_checks import MAX_SEED, ConfigError
from structured_ssl.config.shipped_configs import resolve_config_root
from structured_ssl.config.yaml_reading import read_yaml_config
from structured_ssl.experiments.cell_runs import cell_run
from structured_ssl.experiments.launchers import (
    Launcher,
    add_launcher_arguments,
    launcher_from_args,
)
from structured_ssl.experiments.results import (
    ResultFileError,
    as_percent,
    load_results,
    metric_value,
    read_result,
    refuse,
    result_path,
)
from structured_ssl.experiments.runs import LOGS_DIR, RunSpec
from structured_ssl.experiments.tables import markdown_table, summarize, write_csv

OBJECTIVES = ("augmentation", "structured", "unstructured", "frozen", "supervised")
GROUPS = ("rotation", "translation", "scale")
DEFAULT_METRIC = "test/linear_acc"


def split_finished(
    specs: Sequence[RunSpec], out: Path
) -> tuple[dict[str, dict[str, Any]], list[RunSpec]]:
    """(results of the runs already finished, the specs still to run).

    A finished run asked for with other configs or overrides than now is refused: its result
    would silently stand for settings it was not run with.
    """
    try:
        load_results(out)  # every result there, once: a bad one is refused before anything runs
    except ResultFileError as error:
        refuse(str(error))
    results: dict[str, dict[str, Any]] = {}
    todo, changed = [], []
    for spec in specs:
        path = result_path(out, spec.key)
        if not path.exists():
            todo.append(spec)
            continue
        result = read_result(path)
        if result.get("configs") != list(spec.configs) or result.get("overrides") != list(
            spec.overrides
        ):
            changed.append(str(path))
        results[spec.key] = result
        print(f"  skip  {spec.key} (result exists)", flush=True)
    if changed:
        raise SystemExit(
            f"{len(changed)} finished run(s) in {out} used other configs or overrides than asked now, "
            f"e.g. {changed[0]}; use another --out, or delete those results to rerun them"
        )
    return results, todo


def run_all(
    specs: Sequence[RunSpec],
    out: Path,
    jobs: int = 1,
    echo: bool = False,
    launcher: Launcher | None = None,
) -> dict[str, dict[str, Any] | None]:
    """Run every spec whose result does not exist yet; return results by key (None = failed).

    ``launcher`` decides where the runs execute (default: local processes, ``jobs`` at once,
    each its own interpreter; see
    [`structured_ssl.experiments.launchers`][structured_ssl.experiments.launchers]).
    """
    from structured_ssl.experiments.launchers.local import LocalLauncher

    results: dict[str, dict[str, Any] | None] = {}
    finished, todo = split_finished(specs, out)
    results.update(finished)
    if todo:
        results.update((launcher or LocalLauncher(jobs=jobs, echo=echo)).launch(todo, out))
    return results


# ----------------------------------------------------------------------------- the table
def grid_table(
    results: Sequence[dict[str, Any]],
    cells: Sequence[Cell],
    seeds: Sequence[int],
    metric: str,
    missing: Collection[Cell] = (),
) -> tuple[list[str], list[list[str]]]:
    """Header and rows in the paper's shape: rows objectives, columns dataset x group."""
    datasets = list(dict.fromkeys(c.dataset for c in cells))
    groups = list(dict.fromkeys(c.group for c in cells))
    objectives = list(dict.fromkeys(c.objective for c in cells))
    columns = [(d, g) for d in datasets for g in groups]
    values: dict[Cell, list[float]] = {}
    for result in results:
        cell = Cell(result.get("dataset", ""), result.get("objective", ""), result.get("group", ""))
        value = metric_value(result, metric)
        if cell in cells and result.get("seed") in seeds and value is not None:
            values.setdefault(cell, []).append(as_percent(metric, value))
    header = ["objective", *(f"{d} {g}" for d, g in columns)]
    rows = []
    for objective in objectives:
        row = [objective]
        for dataset, group in columns:
            cell = Cell(dataset, objective, group)
            summary = summarize(values.get(cell, []))
            if cell in missing:
                row.append("n/a")
            elif summary is None:
                row.append("—")
            else:
                row.append(summary.format(expected=len(seeds)))
        rows.append(row)
    return header, rows


def wall_time_table(
    results: Sequence[dict[str, Any]], cells: Sequence[Cell]
) -> tuple[list[str], list[list[str]]]:
    """Mean seconds per run (fit, test, whole process) by objective: what each objective costs."""
    by_objective: dict[str, list[dict[str, float]]] = {}
    for result in results:
        cell = Cell(result.get("dataset", ""), result.get("objective", ""), result.get("group", ""))
        if cell in cells:
            by_objective.setdefault(cell.objective, []).append(result.get("wall_time_s", {}))
    header = ["objective", "runs", "fit s (mean)", "test s (mean)", "process s (mean)"]
    rows = []
    for objective in dict.fromkeys(c.objective for c in cells):
        times = by_objective.get(objective, [])
        row = [objective, str(len(times))]
        for part in ("fit", "test", "process"):
            summary = summarize(t[part] for t in times if part in t)
            row.append(f"{summary.mean:.1f}" if summary else "—")
        rows.append(row)
    return header, rows


def write_tables(
    out: Path, cells: Sequence[Cell], seeds: Sequence[int], metric: str, missing: Collection[Cell]
) -> str:
    """Write table.md, table.csv and runs.csv in OUT; return the Markdown."""
    # a study's runs (they carry a "parameter") may share OUT; they are not grid cells
    results = [r for r in load_results(out) if r.get("seed") in seeds and "parameter" not in r]
    header, rows = grid_table(results, cells, seeds, metric, missing)
    time_header, time_rows = wall_time_table(results, cells)
    unit = " (%)" if metric.endswith("acc") else ""
    text = "\n\n".join(
        [
            f"## {metric}{unit}, mean ± std over seeds {list(seeds)}",
            markdown_table(header, rows),
            "## wall time per run",
            markdown_table(time_header, time_rows),
        ]
    )
    (Path(out) / "table.md").write_text(text + "\n")
    write_csv(Path(out) / "table.csv", header, rows)
    run_header = [
        "dataset",
        "objective",
        "group",
        "seed",
        metric,
        "fit_s",
        "test_s",
        "process_s",
        "key",
    ]
    run_rows = [
        [
            r.get("dataset"),
            r.get("objective"),
            r.get("group"),
            r.get("seed"),
            metric_value(r, metric),
            *(r.get("wall_time_s", {}).get(part) for part in ("fit", "test", "process")),
            r.get("key"),
        ]
        for r in results
    ]
    write_csv(Path(out) / "runs.csv", run_header, run_rows)
    return text


# ----------------------------------------------------------------------------- entry point
def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options the grid and the studies share."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--epochs", type=int, default=None, help="trainer.max_epochs (default: the config's)"
    )
    parser.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="YAML",
        help="extra config composed after each cell's",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any CLI override, e.g. trainer.limit_train_batches=2",
    )
    parser.add_argument(
        "--configs",
        type=resolve_config_root,
        default="configs",
        help=f"config root whose {MANIFEST} names the cells (configs, configs/paper; the shipped "
        "ones by name from any directory)",
    )
    parser.add_argument(
        "--metric",
        default=DEFAULT_METRIC,
        help="metric of the table (test/linear_acc, test/probe_acc, val/probe_acc, ...)",
    )
    parser.add_argument(
        "--ckpt",
        choices=("final", "best"),
        default="final",
        help="checkpoint that `test` evaluates",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="local launcher: runs at once (each its own process)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the runs' commands (slurm: and the sbatch script) and stop",
    )
    parser.add_argument(
        "--echo", action="store_true", help="local launcher: also print each run's output"
    )
    add_launcher_arguments(parser)


def check_run_arguments(args: argparse.Namespace) -> None:
    """The options [`add_run_arguments`][structured_ssl.experiments.grid.add_run_arguments] adds,
    checked before anything runs (one line each): ``--jobs 0`` once started nothing forever,
        ``--seeds 0 0`` ran the same run twice."""
    if args.jobs < 1:
        refuse(f"--jobs {args.jobs}: expected an integer >= 1 (runs at once)")
    repeated = sorted({s for s in args.seeds if args.seeds.count(s) > 1})
    if repeated:
        refuse(
            f"--seeds {' '.join(map(str, args.seeds))}: seed(s) {', '.join(map(str, repeated))} "
            "given twice; expected distinct seeds (each is one run per cell)"
        )
    bad = [s for s in args.seeds if not 0 <= s <= MAX_SEED]
    if bad:
        refuse(f"--seeds {bad[0]}: expected integers from 0 to {MAX_SEED}")
    if args.epochs is not None and args.epochs < 1:
        refuse(f"--epochs {args.epochs}: expected an integer >= 1 (trainer.max_epochs of each run)")
    for overlay in args.overlay:  # read once here, not failing in every run
        if not Path(overlay).is_file():
            refuse(f"--overlay {overlay}: not a file; expected a YAML config")
        try:
            read_yaml_config(overlay)
        except ConfigError as error:
            refuse(str(error))


def dry_run(specs: Sequence[RunSpec], out: Path, launcher: Launcher | None = None) -> None:
    """Print what would run (finished runs are skipped, as a real run would)."""
    from structured_ssl.experiments.launchers.local import LocalLauncher

    _, todo = split_finished(specs, out)
    (launcher or LocalLauncher()).dry_run(todo, out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="structured-ssl grid", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", "--datasets", dest="datasets", nargs="+", default=["digits"])
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    parser.add_argument("--groups", nargs="+", default=list(GROUPS))
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default results/grid-<datasets>)"
    )
    add_run_arguments(parser)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    check_run_arguments(args)
    try:
        unknown = unknown_axis_names(args.configs, args.datasets, args.objectives, args.groups)
    except CellError as error:
        refuse(str(error))
    if unknown:
        refuse(unknown)
    launcher = launcher_from_args(args)
    out: Path = args.out or Path("results") / f"grid-{'-'.join(args.datasets)}"
    cells = [Cell(d, o, g) for d in args.datasets for o in args.objectives for g in args.groups]
    missing = {c for c in cells if not c.offered(args.configs)}
    for cell in sorted(missing, key=lambda c: (c.dataset, c.name)):
        print(
            f"  no config for {cell.dataset}/{cell.name} in {args.configs / MANIFEST}: cell left out (n/a)"
        )
    composed = {cell: cell.arguments(args.configs) for cell in cells if cell not in missing}
    specs = [
        cell_run(args, cell, composed[cell], seed, cell.key(seed))
        for cell in cells
        if cell not in missing
        for seed in args.seeds
    ]
    if args.dry_run:
        dry_run(specs, out, launcher)
        return
    out.mkdir(parents=True, exist_ok=True)
    print(f"structured-ssl grid: {len(specs)} runs -> {out}", flush=True)
    start = time.perf_counter()
    results = run_all(specs, out, launcher=launcher)
    if any(spec.key not in results for spec in specs):
        return  # detached: the runs are queued; the same command later collects them
    text = write_tables(out, cells, args.seeds, args.metric, missing)
    print("\n" + text + "\n")
    failed = [key for key, result in results.items() if result is None]
    print(
        f"wrote {out / 'table.md'}, {out / 'table.csv'}, {out / 'runs.csv'} in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    if failed:
        raise SystemExit(
            f"{len(failed)} run(s) failed: {', '.join(failed)} (logs in {out / LOGS_DIR})"
        )


if __name__ == "__main__":
    main()
