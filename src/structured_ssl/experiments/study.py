"""``structured-ssl study``: one parameter swept for H-SSL and A-SSL side by side.

The paper's Figure 2 varies two things H-SSL exposes: the base-space size |g0| and the
maximum topographic distance between the two fibers. The same ``pairs.max_distance`` bounds
A-SSL's group draws ([`structured_ssl.methods.augmentation`][structured_ssl.methods.augmentation]),
so one sweep compares "feature-space augmentation strength" with input augmentation strength on the
same axis; for the scale group it is the range of downscale factors (A-SSL's crop scale). The group
order N (number of fibers on a rotation axis) and the number of scales are sweepable too.

Every value x objective x seed is one isolated run (as in the grid); the study writes
``study.csv`` (one row per run), ``summary.csv`` (mean ± std per value and objective) and
``study.png`` (the metric against the value, both objectives on the same axes).

    structured-ssl study max_distance --values 0 1 2 3 4 --dataset digits --group rotation \\
        --objectives structured augmentation --seeds 0 1 2 --epochs 30 --out results/study-distance
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structured_ssl.config.cells import CellError, unknown_axis_names
from structured_ssl.experiments.cell_runs import cell_run
from structured_ssl.experiments.grid import (
    Cell,
    add_run_arguments,
    check_run_arguments,
    dry_run,
    run_all,
)
from structured_ssl.experiments.launchers import launcher_from_args
from structured_ssl.experiments.results import as_percent, metric_value, refuse
from structured_ssl.experiments.runs import LOGS_DIR
from structured_ssl.experiments.tables import markdown_table, read_csv, summarize, write_csv
from structured_ssl.groups import PAPER_SCALES, Group


@dataclass(frozen=True)
class Parameter:
    """A sweepable setting: the config key it sets and how a value is written there."""

    key: str
    label: str
    groups: tuple[str, ...] = ()  # groups it applies to; () = all
    #: what a value must be: "integer", "number", "number or null"; "" (a --key): not checked
    #: here, the runs' own config checks decide
    kind: str = "integer"

    def check(self, name: str, value: str) -> str | None:
        """What is wrong with ``value`` for this setting, or None."""
        if not self.kind or (value == "null" and "null" in self.kind):
            return None
        try:
            number = float(value) if self.kind.startswith("number") else int(value)
        except ValueError:
            article = "an" if self.kind == "integer" else "a"
            return f"--values {value}: not allowed for {name}: expected {article} {self.kind}"
        if number != number or number in (float("inf"), float("-inf")):
            return f"--values {value}: not allowed for {name}: expected a finite number"
        return None

    def override(self, value: str) -> str:
        return f"--{self.key}={value}"


class ScaleCount(Parameter):
    """The number of scales (fibers on the scale axis): the first k of the paper's scales."""

    def override(self, value: str) -> str:
        return f"--{self.key}={json.dumps(list(PAPER_SCALES[: int(float(value))]))}"


PARAMETERS: dict[str, Parameter] = {
    "max_distance": Parameter(
        "model.init_args.pairs.max_distance",
        "max topographic distance g1-g2 (grid units)",
        kind="number or null",
    ),
    "g0_size": Parameter("model.init_args.pairs.g0_size", "|g0| (fibers per bundle, per axis)"),
    "order": Parameter(
        "model.init_args.group.order",
        "group order N (fibers on the group axis)",
        ("rotation", "dihedral"),
    ),
    "num_scales": ScaleCount(
        "model.init_args.group.scales", "number of scales (fibers)", ("scale",)
    ),
    "pairs_per_image": Parameter(
        "model.init_args.pairs.pairs_per_image", "fiber pairs drawn per image"
    ),
}
OBJECTIVE_LABELS = {"structured": "H-SSL (structured)", "augmentation": "A-SSL (augmentation)"}


def order_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then anything else (``[crop]``) in text order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def value_name(value: str) -> str:
    """A value as a folder name (``2``, ``0.5``, ``[crop]`` -> ``_crop_``)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in value)


def augmentation_range(result: dict[str, Any], parameter: str, value: str) -> str:
    """What a maximum distance means for A-SSL's input transforms, in the group's own units."""
    if parameter != "max_distance":
        return ""
    settings = (result.get("model") or {}).get("group") or {}
    if not settings.get("kind"):
        return ""
    try:
        group = Group.from_config(settings)
    except ValueError:  # a result written by a group this installation does not have
        return ""
    return group.plugin.distance_meaning(float(value))


# ----------------------------------------------------------------------------- outputs
def study_rows(results: Sequence[dict[str, Any]], parameter: str, metric: str) -> list[list[Any]]:
    rows = []
    for r in results:
        value = metric_value(r, metric)
        facts = r.get("model") or {}
        max_distance = facts.get("max_topographic_distance")
        fraction = (
            float(r["value"]) / max_distance if parameter == "max_distance" and max_distance else ""
        )
        rows.append(
            [
                parameter,
                r["value"],
                r.get("objective"),
                r.get("seed"),
                as_percent(metric, value) if value is not None else "",
                fraction,
                augmentation_range(r, parameter, r["value"]),
                r.get("wall_time_s", {}).get("process", ""),
                r.get("key"),
            ]
        )
    return rows


STUDY_HEADER = [
    "parameter",
    "value",
    "objective",
    "seed",
    "metric",
    "fraction_of_max_distance",
    "augmentation_range",
    "process_s",
    "key",
]
SUMMARY_HEADER = [
    "parameter",
    "value",
    "objective",
    "metric",
    "mean",
    "std",
    "n",
    "dataset",
    "group",
]


def summary_rows(
    rows: Sequence[Sequence[Any]], metric: str, dataset: str, group: str
) -> list[list[Any]]:
    cells: dict[tuple[str, str, str], list[float]] = {}
    for parameter, value, objective, _seed, number, *_ in rows:
        if number != "":
            cells.setdefault((parameter, value, objective), []).append(float(number))
    out = []
    for (parameter, value, objective), numbers in cells.items():
        summary = summarize(numbers)
        assert summary is not None
        out.append(
            [
                parameter,
                value,
                objective,
                metric,
                summary.mean,
                summary.std,
                summary.n,
                dataset,
                group,
            ]
        )
    return sorted(out, key=lambda r: (r[2], order_key(r[1])))


def study_rows_problem(rows: Sequence[dict[str, str]]) -> str | None:
    """What makes a study's ``summary.csv`` unreadable (a missing column, a mean or std that is
    no number), or None: the report lists such a study as skipped instead of a traceback."""
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        missing = [
            c for c in ("parameter", "value", "objective", "mean", "std") if row.get(c) is None
        ]
        if missing:
            return f"line {i} has no {missing[0]!r} column"
        try:
            float(row["mean"]), float(row["std"])
        except ValueError:
            return f"line {i}: mean={row['mean']!r}, std={row['std']!r}: expected numbers"
    return None


def plot_summary(rows: Sequence[dict[str, str]], path: Path, title: str = "") -> Path:
    """Metric against the parameter, one line per objective on the SAME axes (error bars: std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.0, 3.6))
    values = sorted({r["value"] for r in rows}, key=order_key)
    numeric = all(order_key(v)[0] == 0 for v in values)
    position = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    for objective, marker in zip(objectives, "osd^v", strict=False):
        points = sorted(
            (position[r["value"]], float(r["mean"]), float(r["std"]))
            for r in rows
            if r["objective"] == objective
        )
        xs, means, stds = zip(*points, strict=True)
        axes.errorbar(
            xs,
            means,
            yerr=stds,
            marker=marker,
            capsize=3,
            label=OBJECTIVE_LABELS.get(objective, objective),
        )
    if not numeric:
        axes.set_xticks(range(len(values)), values)
    parameter = rows[0]["parameter"] if rows else ""
    metric = rows[0]["metric"] if rows else ""
    axes.set_xlabel(PARAMETERS[parameter].label if parameter in PARAMETERS else parameter)
    axes.set_ylabel(metric + (" (%)" if metric.endswith("acc") else ""))
    axes.set_title(title or f"{metric} vs {parameter}", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_outputs(
    out: Path,
    results: Sequence[dict[str, Any]],
    parameter: str,
    metric: str,
    dataset: str,
    group: str,
) -> str:
    rows = study_rows(results, parameter, metric)
    write_csv(out / "study.csv", STUDY_HEADER, rows)
    summary = summary_rows(rows, metric, dataset, group)
    write_csv(out / "summary.csv", SUMMARY_HEADER, summary)
    if summary:
        plot_summary(
            read_csv(out / "summary.csv"),
            out / "study.png",
            title=f"{dataset}, {group}: {metric} vs {parameter}",
        )
    table = markdown_table(
        [parameter, "objective", f"{metric} mean ± std", "n"],
        [[r[1], r[2], f"{r[4]:.1f} ± {r[5]:.1f}", r[6]] for r in summary],
    )
    (out / "study.md").write_text(table + "\n")
    return table


# ----------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="structured-ssl study", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "parameter", help=f"one of {sorted(PARAMETERS)}, or any config key with --key"
    )
    parser.add_argument("--values", nargs="+", required=True)
    parser.add_argument(
        "--key", default=None, help="config key to set (for a parameter not in the list)"
    )
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--group", default="rotation")
    parser.add_argument("--objectives", nargs="+", default=["structured", "augmentation"])
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default results/study-<parameter>)"
    )
    add_run_arguments(parser)
    parser.set_defaults(seeds=[0])
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        unknown = unknown_axis_names(args.configs, [args.dataset], args.objectives, [args.group])
    except CellError as error:
        refuse(str(error))
    if unknown:
        refuse(unknown.replace("--groups", "--group"))
    launcher = launcher_from_args(args)
    check_run_arguments(args)
    if args.key:
        parameter = Parameter(args.key, args.parameter, kind="")
    elif args.parameter in PARAMETERS:
        parameter = PARAMETERS[args.parameter]
    else:
        refuse(
            f"parameter={args.parameter!r}: not a study parameter; allowed: "
            f"{', '.join(sorted(PARAMETERS))} (or any config key with --key)"
        )
    for value in args.values:
        problem = parameter.check(args.parameter, value)
        if problem:
            refuse(problem)
    names = [value_name(v) for v in args.values]
    if len(set(names)) < len(names):
        refuse(
            f"--values {' '.join(args.values)}: a value is given twice (or two name the same "
            "run folder); expected distinct values"
        )
    if parameter.groups and args.group not in parameter.groups:
        parser.error(
            f"{args.parameter} applies to groups {list(parameter.groups)}, not {args.group!r}"
        )
    out: Path = args.out or Path("results") / f"study-{args.parameter}"
    specs = []
    for objective in args.objectives:
        cell = Cell(args.dataset, objective, args.group)
        if not cell.offered(args.configs):
            parser.error(
                f"no config for {args.dataset}/{cell.name} in {args.configs / 'cells.yaml'}"
            )
        composed = cell.arguments(args.configs)
        for value in args.values:
            for seed in args.seeds:
                key = f"{args.dataset}/{cell.name}/{args.parameter}={value_name(value)}/seed{seed}"
                extra = {"parameter": args.parameter, "value": value}
                specs.append(
                    cell_run(args, cell, composed, seed, key, [parameter.override(value)], extra)
                )
    if args.dry_run:
        dry_run(specs, out, launcher)
        return
    out.mkdir(parents=True, exist_ok=True)
    print(f"structured-ssl study {args.parameter}: {len(specs)} runs -> {out}", flush=True)
    results = run_all(specs, out, launcher=launcher)
    if any(spec.key not in results for spec in specs):
        return  # detached: the runs are queued; the same command later collects them
    finished = [r for r in results.values() if r is not None]
    table = write_outputs(out, finished, args.parameter, args.metric, args.dataset, args.group)
    print("\n" + table + "\n", flush=True)
    print(f"wrote {out / 'study.csv'}, {out / 'summary.csv'}, {out / 'study.png'}", flush=True)
    failed = [key for key, result in results.items() if result is None]
    if failed:
        raise SystemExit(
            f"{len(failed)} run(s) failed: {', '.join(failed)} (logs in {out / LOGS_DIR})"
        )


if __name__ == "__main__":
    main()
