"""The ``structured-ssl`` console script: answers ``--help``/``--version``/typos without
importing torch or Lightning (fast), says how to install escnn if it is missing, then runs
`structured_ssl.cli.main`. Its own module so that [`structured_ssl.cli`][structured_ssl.cli] and
[`structured_ssl.cli_help`][structured_ssl.cli_help] import each other in one direction only."""

from __future__ import annotations

import sys

from structured_ssl.cli_help import answer_before_dispatch, missing_escnn_message


def entry() -> None:
    """Run the command line (see the module's docstring)."""
    status = answer_before_dispatch(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    missing = missing_escnn_message()
    if missing is not None:
        print(missing, file=sys.stderr)
        raise SystemExit(2)
    from structured_ssl.cli import main

    main()
