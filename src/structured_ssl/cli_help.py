"""What ``structured-ssl`` says about itself: the overview of EVERY subcommand, ``--version``,
and the nearest command for a typo.

Why: LightningCLI's own help lists only fit/validate/test/predict and suggests only those for a
typo; the project's commands (grid, study, check, compare, report, configs) were invisible.
This runs before LightningCLI sees the arguments, so one list decides what exists.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

from structured_ssl import __version__

LIGHTNING_COMMANDS = {
    "fit": "train a model: self-supervised pretraining with an online linear probe",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test splits (probe + linear evaluation)",
    "predict": "write a checkpoint's embeddings of the test split to disk (one file per rank)",
}

PROJECT_HELP = {
    "grid": "train every cell (dataset x objective x group) of a config root, several seeds",
    "study": "sweep one parameter (g0_size, max_distance, order, ...) of one cell over values",
    "check": "measure an encoder's equivariance error for its declared group action",
    "compare": "one table row per finished run, its curves and accuracy against training time",
    "report": "tables and figures of a grid (and studies) beside the paper's",
    "reproduce": "one of the paper's tables at its recipe: its grid, then its report",
    "configs": "list the configs shipped with the package (use one as --config NAME)",
}


def version() -> str:
    """The installed distribution's version; the source tree's when run from a checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("structured-ssl")
    except PackageNotFoundError:
        return __version__


def overview() -> str:
    """``structured-ssl --help``: one line per subcommand, Lightning's and the project's."""
    width = max(map(len, [*LIGHTNING_COMMANDS, *PROJECT_HELP]))
    lines = [
        f"usage: structured-ssl [-h] [--version] COMMAND ...   (structured-ssl {version()})",
        "",
        "Structured (homomorphic) self-supervised learning on group-equivariant encoders.",
        "",
        "Lightning commands (options: structured-ssl COMMAND --help):",
        *(f"  {name:<{width}}  {text}" for name, text in LIGHTNING_COMMANDS.items()),
        "",
        "Project commands:",
        *(f"  {name:<{width}}  {text}" for name, text in PROJECT_HELP.items()),
        "",
        "Start with: structured-ssl fit --config default   (shipped configs: structured-ssl configs)",
    ]
    return "\n".join(lines)


def all_commands() -> list[str]:
    return [*LIGHTNING_COMMANDS, *PROJECT_HELP]


def unknown_command_message(word: str) -> str:
    """One line for a word that is no command, with the nearest command when one is close."""
    nearest = difflib.get_close_matches(word, all_commands(), n=1, cutoff=0.6)
    hint = f"; did you mean '{nearest[0]}'?" if nearest else ""
    return f"error: unknown command '{word}'{hint} (commands: {', '.join(all_commands())})"


def answer_before_dispatch(argv: Sequence[str]) -> int | None:
    """Handle ``--help``, ``--version``, no command and an unknown command; the exit status, or
    None when the arguments are for a real command."""
    if not argv or argv[0] in ("-h", "--help"):
        print(overview(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"structured-ssl {version()}")
        return 0
    if not argv[0].startswith("-") and argv[0] not in all_commands():
        print(unknown_command_message(argv[0]), file=sys.stderr)
        return 2
    return None


def missing_escnn_message() -> str | None:
    """One line when escnn is not installed (it is not a hard dependency: its py3nj needs
    Fortran), saying the command that installs it; None when it is importable."""
    import importlib.util

    if importlib.util.find_spec("escnn") is not None:
        return None
    return (
        "error: escnn is not installed; install it without its Fortran-only dependency: "
        "pip install --no-deps escnn==1.0.11   (docs/guides/install.md)"
    )
