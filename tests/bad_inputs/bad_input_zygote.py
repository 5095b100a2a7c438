"""A fork server for the bad-input probe: imports the CLI once, then runs each command in a
forked child process, as the console script would run it.

Why: a fresh ``structured-ssl`` process spends about 8 s of CPU importing torch, Lightning
and escnn before it reads its first argument; the probe's rows would spend most of their time
there. Each child here is still its own process (its own exit status, stdout and stderr files,
``sys.argv`` set as the console script sets it, nothing shared back), forked after the imports
and before anything has run (no thread, no seed, no Lightning state yet).

Protocol (one JSON object per line): the parent writes ``{"argv": [...], "stdout": PATH,
"stderr": PATH, "timeout": SECONDS}``; this server answers ``{"exit": CODE}`` when the child
ends (124 when it ran past the timeout and was killed with its process group).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
import traceback


def run_child(argv: list[str], stdout: str, stderr: str) -> None:
    """In the forked child: the console script's ``main()`` with its exit-status rules."""
    os.setpgid(0, 0)  # its own process group: a timeout kills what it started too
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        target = os.open(path, flags, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's own fd 0
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    sys.argv = ["structured-ssl", *argv]
    from structured_ssl.cli import main

    code = 1
    try:
        main()
        code = 0
    except SystemExit as stop:  # as the interpreter turns SystemExit into an exit status
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - printed as the interpreter would print it
        traceback.print_exc()
    try:
        atexit._run_exitfuncs()  # type: ignore[attr-defined] - what a normal exit runs
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if status else 0
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.05)


def serve() -> None:
    import lightning.pytorch  # noqa: F401 - the imports every command pays, paid once here

    import structured_ssl.cli  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run_child(request["argv"], request["stdout"], request["stderr"])
        code = wait(pid, float(request.get("timeout", 300)))
        print(json.dumps({"exit": code}), flush=True)


if __name__ == "__main__":
    serve()
