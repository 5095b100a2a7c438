"""The run a grid or a study makes of one cell at one seed.

Why one place: ``structured-ssl grid`` and ``structured-ssl study`` both turn a cell (dataset,
objective, group) and a seed into a [`RunSpec`][structured_ssl.experiments.runs.RunSpec] with
the same configs, overrides and record, a study adding its parameter's override and value;
results written by one read like the other's.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from structured_ssl.config.cells import Cell
from structured_ssl.experiments.runs import RunSpec


def seed_overrides(seed: int, epochs: int | None, sets: Sequence[str]) -> tuple[str, ...]:
    """The command-line overrides every run of a grid or study shares.

    The seed goes to both Lightning (weights, sampling) and the DataModule (split, subset,
    rotated test angles), so one seed is one fully reproducible replicate.
    """
    overrides = [f"--seed_everything={seed}", f"--data.init_args.seed={seed}"]
    if epochs is not None:
        overrides.append(f"--trainer.max_epochs={epochs}")
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        overrides.append(f"--{key.lstrip('-')}={value}")
    return tuple(overrides)


def cell_run(
    args: argparse.Namespace,
    cell: Cell,
    composed: tuple[tuple[str, ...], tuple[str, ...]],
    seed: int,
    key: str,
    extra_overrides: Sequence[str] = (),
    extra_record: dict[str, Any] | None = None,
) -> RunSpec:
    """One run of ``cell`` at ``seed`` as a grid or a study asks for it: the cell's
    ``composed`` configs then the ``--overlay`` files; its overrides, the seed's and
    ``extra_overrides``; a record that places the run (``extra_record`` after the seed)."""
    configs, overrides = composed
    overlays = list(map(str, args.overlay))
    return RunSpec(
        key=key,
        configs=(*configs, *overlays),
        overrides=(*overrides, *seed_overrides(seed, args.epochs, args.set), *extra_overrides),
        record={
            "dataset": cell.dataset,
            "objective": cell.objective,
            "group": cell.group,
            "seed": seed,
            **(extra_record or {}),
            "epochs": args.epochs,
            "overlays": overlays,
            "sets": list(args.set),
        },
        ckpt=args.ckpt,
    )
