"""Accuracy against training seconds, one panel per group, one line per objective and seed.

Why: H-SSL's benefit is accuracy per second, which a final-accuracy table hides. The points
come from the runs' TensorBoard scalars (read by
[`structured_ssl.reporting.run_reading`][structured_ssl.reporting.run_reading]):

* accuracy: the first tag a run logged of `ACCURACY_TAGS` (``val/linear_curve_acc``
  from [`LinearCurve`][structured_ssl.callbacks.linear_curve.LinearCurve]: a converged linear probe
  per validation epoch; else the kNN or online-probe accuracy);
* seconds: ``time/train_seconds`` logged at the same step (training time only), else the
  event's wall time since the run's first event or scalar (includes validation).

``structured-ssl compare`` writes ``accuracy_time.png`` and ``accuracy_time.md`` beside its
table when some run has such points. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structured_ssl.callbacks.tb_logging import epoch_points
from structured_ssl.experiments.tables import markdown_table
from structured_ssl.reporting.run_reading import (
    Point,
    find_runs,
    finish_figure,
    identity,
    read_scalars,
)

ACCURACY_TAGS = ("val/linear_curve_acc", "val/knn_acc", "val/probe_acc")
SECONDS_TAG = "time/train_seconds"


@dataclass
class TimeCurve:
    """One run's (epoch, seconds, accuracy) points."""

    name: str
    objective: str
    group: str
    seed: str
    accuracy_tag: str
    seconds_source: str  # SECONDS_TAG or "wall time"
    points: list[tuple[int, float, float]] = field(default_factory=list)


def time_curve(
    scalars: dict[str, list[Point]], first_wall_time: float | None
) -> tuple[str, str, list[tuple[int, float, float]]] | None:
    """``(accuracy tag, seconds source, [(epoch, seconds, accuracy)])`` of one run, or None."""
    tag = next((t for t in ACCURACY_TAGS if scalars.get(t)), None)
    if tag is None:
        return None
    epochs = {p.step: int(p.value) for p in epoch_points(scalars)}
    seconds = {p.step: p.value for p in scalars.get(SECONDS_TAG, [])}
    source = SECONDS_TAG if seconds else "wall time"
    earliest = min(p.wall_time for points in scalars.values() for p in points)
    start = min(first_wall_time, earliest) if first_wall_time is not None else earliest
    points = []
    for index, point in enumerate(scalars[tag]):
        elapsed = seconds.get(point.step) if seconds else point.wall_time - start
        if elapsed is None:
            continue
        points.append((epochs.get(point.step, index) + 1, float(elapsed), point.value))
    return tag, source, points


def collect_curves(logdir: str | Path) -> list[TimeCurve]:
    """Every fit run under ``logdir`` that logged an accuracy per validation epoch."""
    root = Path(logdir)
    curves = []
    for directories in find_runs(root):
        main = directories[0]
        scalars, first = read_scalars(main)
        found = time_curve(scalars, first)
        if found is None or not found[2]:
            continue
        who = identity(main)
        name = str(main.relative_to(root)) if main != root else main.name
        curves.append(
            TimeCurve(
                name, who["objective"], who["group"], who["seed"], found[0], found[1], found[2]
            )
        )
    return curves


def points_markdown(curves: Sequence[TimeCurve]) -> str:
    """Every point as a Markdown table row: group, objective, seed, epoch, seconds, accuracy."""
    header = ["group", "objective", "seed", "epoch", "train seconds", "accuracy", "accuracy tag"]
    rows = [
        [
            c.group,
            c.objective,
            c.seed,
            str(epoch),
            f"{seconds:.1f}",
            f"{accuracy:.4f}",
            c.accuracy_tag,
        ]
        for c in sorted(curves, key=lambda c: (c.group, c.objective, c.seed))
        for epoch, seconds, accuracy in c.points
    ]
    return markdown_table(header, rows)


def plot_accuracy_time(curves: Sequence[TimeCurve], path: str | Path | None = None) -> Any:
    """One panel per group; each objective (and seed) one line of accuracy against seconds."""
    from matplotlib.figure import Figure

    groups = sorted({c.group for c in curves}) or ["-"]
    figure = Figure(figsize=(4.2 * len(groups), 3.6), dpi=100)
    axes_list = figure.subplots(1, len(groups), squeeze=False)[0]
    for axes, group in zip(axes_list, groups, strict=True):
        for curve in sorted(
            (c for c in curves if c.group == group), key=lambda c: (c.objective, c.seed)
        ):
            _, seconds, accuracy = zip(*curve.points, strict=True)
            axes.plot(
                seconds,
                accuracy,
                marker="o",
                markersize=3,
                label=f"{curve.objective} seed{curve.seed}",
            )
        axes.set_title(group)
        source = {c.seconds_source for c in curves if c.group == group}
        axes.set_xlabel("training seconds" if source == {SECONDS_TAG} else "seconds since start")
        axes.set_ylabel(
            " / ".join(sorted({c.accuracy_tag for c in curves if c.group == group})) or "accuracy"
        )
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=7)
    return finish_figure(figure, path)


def write_accuracy_time(logdir: str | Path, out: str | Path) -> dict[str, Path]:
    """``accuracy_time.png`` and ``accuracy_time.md`` in ``out`` (nothing when no run has points)."""
    curves = collect_curves(logdir)
    if not curves:
        return {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "accuracy_time_plot": out / "accuracy_time.png",
        "accuracy_time_table": out / "accuracy_time.md",
    }
    plot_accuracy_time(curves, paths["accuracy_time_plot"])
    paths["accuracy_time_table"].write_text(points_markdown(curves) + "\n")
    return paths
