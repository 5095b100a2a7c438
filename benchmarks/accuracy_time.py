"""Accuracy against training seconds: A-SSL and H-SSL of the same cell on one plot.

Runs the paper's MNIST cells with the small overlay (embedded digits, CPU-sized; the
setting of docs/reports/paper-grid.md) for rotation, translation and scale, each objective with
:class:`~structured_ssl.callbacks.linear_curve.LinearCurve` (a converged linear probe on the validation
set after every epoch, and the training seconds so far), then draws every run's points with
``structured-ssl compare``'s figure (:mod:`structured_ssl.reporting.accuracy_time`).

    python benchmarks/accuracy_time.py [--epochs 8] [--seeds 0] [--runs results/accuracy-time] \
        [--out docs/results/accuracy_time]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("rotation", "translation", "scale")
OBJECTIVES = ("augmentation", "structured")


def fit_command(
    objective: str, group: str, seed: int, epochs: int, runs: Path, extra: list[str]
) -> list[str]:
    from structured_ssl.config.cells import Cell

    configs, overrides = Cell("mnist", objective, group).arguments(ROOT / "configs" / "paper")
    return [
        sys.executable,
        "-m",
        "structured_ssl.cli",
        "fit",
        *[a for c in configs for a in ("--config", c)],
        *overrides,
        "--config",
        str(ROOT / "configs" / "paper" / "small.yaml"),
        f"--seed_everything={seed}",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        "--trainer.callbacks+=structured_ssl.callbacks.linear_curve.LinearCurve",
        f"--trainer.logger.save_dir={runs / group}",
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "accuracy-time")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "accuracy_time")
    parser.add_argument("extra", nargs="*", help="more fit arguments for every run (after --)")
    args = parser.parse_args()
    for group in args.groups:
        for seed in args.seeds:
            for objective in OBJECTIVES:
                print(f"fit {objective} {group} seed {seed}", flush=True)
                subprocess.run(
                    fit_command(objective, group, seed, args.epochs, args.runs, args.extra),
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
    from structured_ssl.reporting.accuracy_time import (
        collect_curves,
        points_markdown,
        write_accuracy_time,
    )

    paths = write_accuracy_time(args.runs, args.out)
    print(points_markdown(collect_curves(args.runs)))
    print(f"\nwrote {paths.get('accuracy_time_plot')} and {paths.get('accuracy_time_table')}")


if __name__ == "__main__":
    main()
