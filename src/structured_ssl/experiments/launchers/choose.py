"""Which launcher a sweep's options ask for (kept apart from ``base``, which the launchers
themselves import: choosing here imports them, so ``base`` importing them back would be a circle)."""

from __future__ import annotations

import argparse

from structured_ssl.experiments.launchers.base import Launcher


def launcher_from_args(args: argparse.Namespace) -> Launcher:
    """The launcher the options ask for; bad SLURM options exit with one line, before any run."""
    if args.launcher == "slurm":
        from structured_ssl.experiments.launchers.slurm import SlurmLauncher
        from structured_ssl.experiments.launchers.slurm_options import slurm_options_from_args

        return SlurmLauncher(slurm_options_from_args(args))
    from structured_ssl.experiments.launchers.gpus import gpu_slots, visible_gpus
    from structured_ssl.experiments.launchers.local import LocalLauncher

    try:
        gpus = visible_gpus(args.gpus)
        gpu_slots(gpus, args.runs_per_gpu)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    return LocalLauncher(jobs=args.jobs, echo=args.echo, gpus=gpus, runs_per_gpu=args.runs_per_gpu)
