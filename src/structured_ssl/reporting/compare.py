"""`structured-ssl compare LOGDIR [--out DIR]`: one table row per TensorBoard run.

A run is a directory holding event files (``<save_dir>/<name>/<version>``). Its scalars are
read with TensorBoard's own reader (``EventAccumulator``), its identity (objective, group,
loss, seed) from the ``config.yaml`` LightningCLI saved next to the events (or, failing that,
``hparams.yaml``). A ``<version>-test`` directory (the grid's test stage) is merged into its
``<version>`` run, and a [`LinearEval`][structured_ssl.methods.linear_eval.LinearEval] run takes its
identity from the pretraining run its checkpoint belongs to.

Outputs: the Markdown table on stdout, and in ``--out`` (default ``LOGDIR/compare``):
``table.md``, ``table.csv`` (unrounded, missing values empty) and ``curves.png`` (validation
accuracy per epoch, one line per run), and, when some run logged accuracy against training
seconds, ``accuracy_time.png`` and ``accuracy_time.md``
([`structured_ssl.reporting.accuracy_time`][structured_ssl.reporting.accuracy_time]). In the printed
and Markdown tables a missing metric is ``-``. Runs are read by
[`structured_ssl.reporting.run_reading`][structured_ssl.reporting.run_reading]. Nothing here imports
torch or escnn, so comparing is quick.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structured_ssl.callbacks.tb_logging import epoch_points
from structured_ssl.experiments.results import refuse
from structured_ssl.experiments.tables import markdown_table, write_csv
from structured_ssl.reporting.accuracy_time import write_accuracy_time
from structured_ssl.reporting.run_reading import (
    EventFileError,
    Point,
    find_runs,
    finish_figure,
    identity,
    read_scalars,
)

#: table columns: (header, RunSummary attribute, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run", "name", "s"),
    ("objective", "objective", "s"),
    ("group", "group", "s"),
    ("loss", "loss", "s"),
    ("seed", "seed", "s"),
    ("epochs", "epochs", "d"),
    ("val probe acc", "val_acc", ".4f"),
    ("val kNN acc", "knn_acc", ".4f"),
    ("test acc", "test_acc", ".4f"),
    ("rotated test acc", "rotated_acc", ".4f"),
    ("equivariance error", "equivariance_error", ".3g"),
    ("s / epoch", "seconds_per_epoch", ".1f"),
)

#: where each metric may be logged, first found wins: for test accuracies the converged linear
#: classifier (TestLinearEval or LinearEval) before the online probe
VAL_TAGS = ("val/probe_acc", "val/linear_acc")
TEST_TAGS = ("test/linear_acc", "test/probe_acc")
ROTATED_TAGS = ("test_rotated/linear_acc", "test_rotated/probe_acc")


@dataclass
class RunSummary:
    """What the table and the plot show of one run."""

    path: Path
    name: str
    objective: str = "-"
    group: str = "-"
    loss: str = "-"
    seed: str = "-"
    epochs: int | None = None
    val_acc: float | None = None
    knn_acc: float | None = None
    test_acc: float | None = None
    rotated_acc: float | None = None
    equivariance_error: float | None = None
    seconds_per_epoch: float | None = None
    curve_tag: str | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, value)

    @property
    def label(self) -> str:
        return f"{self.objective} {self.group} {self.loss} seed{self.seed}"


def last_value(
    scalars: dict[str, list[Point]], tags: Sequence[str]
) -> tuple[str | None, float | None]:
    for tag in tags:
        points = scalars.get(tag)
        if points:
            return tag, points[-1].value
    return None, None


def epoch_curve(scalars: dict[str, list[Point]], tag: str) -> list[tuple[int, float]]:
    """``(epoch, value)`` of a per-epoch metric, the epoch read from Lightning's ``epoch``
    scalar logged at the same step (1-based: the value after that many epochs)."""
    epochs = {p.step: int(p.value) for p in epoch_points(scalars)}
    curve = []
    for index, point in enumerate(scalars.get(tag, [])):
        epoch = epochs.get(point.step, index)
        curve.append((epoch + 1, point.value))
    return curve


def summarize(directories: Sequence[Path], root: Path) -> RunSummary:
    """One run's row (the first directory is the fit run, the others its test stages)."""
    scalars: dict[str, list[Point]] = {}
    first_times = []
    for directory in directories:
        found, first = read_scalars(directory)
        for tag, points in found.items():
            scalars.setdefault(tag, []).extend(points)
        if first is not None:
            first_times.append(first)
    for points in scalars.values():
        points.sort(key=lambda p: (p.wall_time, p.step))
    main = directories[0]
    name = str(main.relative_to(root)) if main != root else main.name
    summary = RunSummary(path=main, name=name, **identity(main))
    summary.curve_tag, summary.val_acc = last_value(scalars, VAL_TAGS)
    _, summary.knn_acc = last_value(scalars, ("val/knn_acc",))
    _, summary.test_acc = last_value(scalars, TEST_TAGS)
    _, summary.rotated_acc = last_value(scalars, ROTATED_TAGS)
    _, summary.equivariance_error = last_value(scalars, ("val/equivariance_error",))
    if summary.curve_tag is not None:
        summary.curve = epoch_curve(scalars, summary.curve_tag)
        summary.epochs = summary.curve[-1][0] if summary.curve else None
        val_points = scalars[summary.curve_tag]
        if summary.epochs and first_times:
            elapsed = val_points[-1].wall_time - min(first_times)
            summary.seconds_per_epoch = elapsed / summary.epochs
    return summary


def collect(logdir: str | Path) -> list[RunSummary]:
    """Every run under ``logdir``, in path order."""
    root = Path(logdir)
    if not root.is_dir():
        raise FileNotFoundError(f"LOGDIR={str(root)!r} is not a directory")
    return [summarize(directories, root) for directories in find_runs(root)]


# ----------------------------------------------------------------------------- writing
def cell(value: Any, fmt: str | None, missing: str = "-") -> str:
    """A formatted cell; ``fmt=None`` keeps full precision (CSV)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return str(value) if fmt is None else format(value, fmt)


def table_rows(
    runs: Sequence[RunSummary], missing: str = "-", exact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows; ``exact`` writes numbers unrounded (for the CSV)."""
    header = [c[0] for c in COLUMNS]
    rows = [
        [cell(getattr(run, attr), None if exact else fmt, missing) for _, attr, fmt in COLUMNS]
        for run in runs
    ]
    return header, rows


def markdown(runs: Sequence[RunSummary]) -> str:
    """The comparison as a Markdown table (missing metrics ``-``)."""
    return markdown_table(*table_rows(runs))


def plot_curves(runs: Sequence[RunSummary], path: str | Path | None = None) -> Any:
    """Validation accuracy against epoch, one line per run; saved to ``path`` when given."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    labels = [run.label for run in runs]
    for run, label in zip(runs, labels, strict=True):
        if run.curve:
            epochs, values = zip(*run.curve, strict=True)
            if labels.count(label) > 1:  # same settings twice: tell them apart by directory
                label = f"{label} [{run.name}]"
            axes.plot(epochs, values, marker="o", markersize=3, label=f"{label} ({run.curve_tag})")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.set_title("validation accuracy per epoch")
    axes.grid(alpha=0.3)
    if any(run.curve for run in runs):
        axes.legend(fontsize=7)
    return finish_figure(figure, path)


def write_outputs(runs: Sequence[RunSummary], out: str | Path) -> dict[str, Path]:
    """``table.md``, ``table.csv`` and ``curves.png`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "table.md", "csv": out / "table.csv", "plot": out / "curves.png"}
    paths["markdown"].write_text(markdown(runs) + "\n")
    header, rows = table_rows(runs, missing="", exact=True)
    write_csv(paths["csv"], header, rows)
    plot_curves(runs, paths["plot"])
    return paths


def main(argv: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Print and write the comparison; returns (LOGDIR, the output directory)."""
    parser = argparse.ArgumentParser(
        prog="structured-ssl compare",
        description="Compare TensorBoard runs: one Markdown table row per run, plus validation curves.",
    )
    parser.add_argument("logdir", help="directory holding runs (event files), e.g. runs/")
    parser.add_argument(
        "--out",
        default=None,
        help="where table.md, table.csv and curves.png go (default LOGDIR/compare)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        runs = collect(args.logdir)
    except (FileNotFoundError, EventFileError) as error:
        refuse(str(error))
    if not runs:
        refuse(f"no TensorBoard event files under {args.logdir!r}")
    print(markdown(runs))
    paths = write_outputs(runs, args.out or Path(args.logdir) / "compare")
    print(f"\nwrote {paths['markdown']}, {paths['csv']} and {paths['plot']}")
    out = paths["markdown"].parent
    figure = write_accuracy_time(args.logdir, out)
    if figure:
        print(f"wrote {figure['accuracy_time_plot']} and {figure['accuracy_time_table']}")
    return Path(args.logdir), out


if __name__ == "__main__":
    main()
