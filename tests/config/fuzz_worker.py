"""Runs fuzzed ``fit`` cases in ONE process under a memory cap, for tests/config/test_config_fuzz.py.

Usage: ``python tests/config/fuzz_worker.py CASES.json OUT_DIR``. Each case is ``{"configs": [...],
"field": ..., "value": ...}``; the worker prints one JSON line per case:
``{"case": ..., "outcome": "exit" | "built" | "raised" | "timeout", "code": ..., "lines": [...]}``.

Why a separate process: a setting that escapes every check can allocate without bound inside
the build (``group.order=80000`` asked for tens of GB before a bound existed); here that ends
as a MemoryError for that case (RLIMIT_AS) instead of taking the test machine down, and a case
that hangs (``trainer.devices=1000000`` once started that many processes) ends at its alarm.
The encoder factory is replaced by a stub that stops at the build: reaching it means "runs".
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

MEMORY_CAP_BYTES = 8 * 1024**3
SECONDS_PER_CASE = 60
NOISE = ("INFO:", "Seed set", "GPU available", "TPU available", "HPU available")


class Built(Exception):
    """The case got past every check: it would run."""


class TimedOut(Exception):
    pass


def _stop_at_build(*args: Any, **kwargs: Any) -> Any:
    raise Built("a model was built: the case runs")


def _alarm(signum: int, frame: Any) -> None:
    raise TimedOut(f"no answer within {SECONDS_PER_CASE} s")


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def run_case(case: dict[str, Any], root: Path) -> dict[str, Any]:
    from structured_ssl.cli import main

    args = ["fit"]
    for config in case["configs"]:
        args += ["--config", config]
    args += [
        f"--{case['field']}={case['value']}",
        f"--trainer.default_root_dir={root}",
        f"--trainer.logger.init_args.save_dir={root}",
    ]
    err = io.StringIO()
    result: dict[str, Any] = {"case": case}
    signal.alarm(SECONDS_PER_CASE)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main(args)
        result.update(outcome="exit", code=0)
    except SystemExit as exit_info:
        result.update(outcome="exit", code=exit_info.code)
    except BaseException as error:  # noqa: BLE001 - every escape is an outcome to report
        chain = _chain(error)
        if any(isinstance(e, Built) for e in chain) or "a model was built" in str(error):
            result.update(outcome="built")
        elif any(isinstance(e, TimedOut) for e in chain):
            result.update(outcome="timeout")
        else:
            result.update(outcome="raised", traceback=traceback.format_exc()[-3000:])
    finally:
        signal.alarm(0)
    result["lines"] = [
        line for line in err.getvalue().splitlines() if line.strip() and not line.startswith(NOISE)
    ]
    return result


def main(cases_file: str, out_dir: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    signal.signal(signal.SIGALRM, _alarm)
    import structured_ssl.methods.base as methods_base

    methods_base.build_encoder = _stop_at_build  # type: ignore[assignment]
    cases = json.loads(Path(cases_file).read_text())
    for index, case in enumerate(cases):
        result = run_case(case, Path(out_dir) / f"case{index}")
        print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
