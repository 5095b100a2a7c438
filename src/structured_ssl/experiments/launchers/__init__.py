"""Where a sweep's runs execute: here, as local processes (``local``, the default), or on a
SLURM cluster as one job array per sweep, submitted through submitit (``slurm``).

The grid and the studies build their runs ([`RunSpec`][structured_ssl.experiments.runs.RunSpec]),
skip the finished ones, and hand the rest to a launcher; whichever launcher ran them, each run
writes the same result JSON, so tables and reports do not know the difference.
"""

from structured_ssl.experiments.launchers.base import (
    Launcher,
    add_launcher_arguments,
    report_outcome,
)
from structured_ssl.experiments.launchers.choose import launcher_from_args

__all__ = ["Launcher", "add_launcher_arguments", "launcher_from_args", "report_outcome"]
