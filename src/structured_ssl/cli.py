"""`structured-ssl`: the LightningCLI entry point, plus a few project subcommands.

Lightning's own subcommands (fit, validate, test, predict) choose model and data by
``class_path`` in YAML and run through
[`run_lightning_cli`][structured_ssl.experiments.lightning_cli.run_lightning_cli] (the LightningCLI
subclass lives in the experiments layer, so the run worker and ``check`` use it without importing
this module). Project subcommands (check, compare, grid, report, study, configs, reproduce) are
dispatched before LightningCLI sees the arguments.
"""

from __future__ import annotations

import sys

from structured_ssl.cli_help import answer_before_dispatch
from structured_ssl.config.field_checks import ConfigError
from structured_ssl.config.shipped_configs import read_config_files, resolve_config_args
from structured_ssl.experiments.lightning_cli import fail, run_lightning_cli

PROJECT_COMMANDS = {
    "check": "structured_ssl.experiments.check:main",
    "compare": "structured_ssl.reporting.compare:main",
    "grid": "structured_ssl.experiments.grid:main",
    "report": "structured_ssl.reporting.report:main",
    "study": "structured_ssl.experiments.study:main",
    "configs": "structured_ssl.config.shipped_configs:list_main",
    "reproduce": "structured_ssl.reporting.reproduce:main",
}


def main(argv: list[str] | None = None) -> None:
    from_command_line = argv is None  # then LightningCLI reads sys.argv itself (no args= warning)
    argv = list(sys.argv[1:] if argv is None else argv)
    status = answer_before_dispatch(argv)  # --help, --version, no command, a typo
    if status is not None:
        raise SystemExit(status)
    argv = resolve_config_args(argv)  # `--config NAME`: a shipped config, from any directory
    try:
        argv = read_config_files(argv)  # YAML errors with file:line:col; empty overlays dropped
    except ConfigError as error:
        fail(str(error))
    if from_command_line:
        sys.argv[1:] = argv
    if argv and argv[0] in PROJECT_COMMANDS:
        import importlib

        module_name, func = PROJECT_COMMANDS[argv[0]].split(":")
        getattr(importlib.import_module(module_name), func)(argv[1:])
        return
    run_lightning_cli(argv, from_command_line)


if __name__ == "__main__":
    main()
