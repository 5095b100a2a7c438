"""The bad-input probe: one table of bad inputs, each row a real CLI process, one line each.

Rows come from every ``tests/bad_inputs/bad_input_cases_*.py`` that defines ``CASES: list[dict]``:

* ``id``: a short name (unique over all modules);
* ``argv``: the ``structured-ssl`` command line without the program name; ``{tmp}`` stands
  for the row's own temporary folder;
* ``setup`` (optional): the name of a function of the same module, called as
  ``setup(tmp: Path)`` before the command (it writes the bad file, copies a finished fit...);
* ``exit``: the expected exit status;
* ``words``: texts the ONE ``error:`` line must contain;
* ``unchanged``: globs under ``tmp`` (``**`` allowed) whose files must keep their bytes; each
  must match at least one file;
* ``absent`` (optional): globs under ``tmp`` that must match nothing afterwards (e.g. a folder
  literally named ``${TMPDIR}``);
* ``alone`` (optional, default false): stderr holds nothing but the error line (a refusal
  before anything is built prints nothing else).

Every row asserts: the exit status, no ``Traceback`` on stderr, exactly one line starting with
``error:``, holding every word, and the unchanged files' bytes. The commands run in forked
children of :mod:`bad_input_zygote` (the imports paid once; each command still its own
process with its own exit status and streams), two at a time; setups run first, in this
process, where one tiny fit is made once and copied for every row that needs it.

docs/guides/bad-input.md's probe table is generated from the same rows by
``scripts/bad_input_table.py``; :func:`test_the_guide_lists_every_row` fails when it is stale.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent  # the case modules and the zygote
TESTS = HERE.parent  # the shared support modules (fault_injection, cli_args)
REPO = TESTS.parent
ROW_KEYS = {"id", "argv", "setup", "exit", "words", "unchanged", "absent", "alone"}
#: commands at once (each a forked process); PROBE_WORKERS overrides
WORKERS = int(os.environ.get("PROBE_WORKERS", "2"))
ROW_TIMEOUT_S = 600


def case_modules() -> list[ModuleType]:
    """Every ``bad_input_cases_*`` module beside this file, by name."""
    return [importlib.import_module(p.stem) for p in sorted(HERE.glob("bad_input_cases_*.py"))]


def collect_rows() -> list[tuple[ModuleType, dict[str, Any]]]:
    return [(m, row) for m in case_modules() for row in getattr(m, "CASES", [])]


ROWS = collect_rows()
BY_ID = {row["id"]: (module, row) for module, row in ROWS}


@dataclass
class Outcome:
    exit: int
    stdout: str
    stderr: str
    before: dict[str, dict[str, str]] = field(default_factory=dict)  # glob -> {file: sha256}
    after: dict[str, dict[str, str]] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)  # files matching an ``absent`` glob


def fingerprints(tmp: Path, pattern: str) -> dict[str, str]:
    return {
        str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tmp.glob(pattern))
        if p.is_file()
    }


def fill(argv: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in argv]


class Zygote:
    """One fork server (tests/bad_inputs/bad_input_zygote.py) and its pipe."""

    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(HERE), str(TESTS)]),
            "PYTHONWARNINGS": "default",
        }
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "bad_input_zygote.py")],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None and self.process.stdout.readline() == "ready\n"

    def run(self, argv: list[str], out: Path, err: Path) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"argv": argv, "stdout": str(out), "stderr": str(err), "timeout": ROW_TIMEOUT_S}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(json.loads(self.process.stdout.readline())["exit"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run_rows(ids: list[str], base: Path) -> dict[str, Outcome]:
    """Set every row up (here, in order), then run the commands, ``WORKERS`` at a time."""
    prepared = []
    for row_id in ids:
        module, row = BY_ID[row_id]
        tmp = base / row_id
        tmp.mkdir(parents=True)
        if row.get("setup"):
            getattr(module, row["setup"])(tmp)
        before = {g: fingerprints(tmp, g) for g in row.get("unchanged", [])}
        prepared.append((row_id, tmp, before))
    todo: queue.Queue = queue.Queue()
    for item in prepared:
        todo.put(item)
    outcomes: dict[str, Outcome] = {}

    def worker() -> None:
        zygote = Zygote()
        try:
            while True:
                try:
                    row_id, tmp, before = todo.get_nowait()
                except queue.Empty:
                    return
                row = BY_ID[row_id][1]
                out, err = base / f"{row_id}.stdout", base / f"{row_id}.stderr"
                code = zygote.run(fill(row["argv"], tmp), out, err)
                outcomes[row_id] = Outcome(
                    exit=code,
                    stdout=out.read_text(errors="replace"),
                    stderr=err.read_text(errors="replace"),
                    before=before,
                    after={g: fingerprints(tmp, g) for g in row.get("unchanged", [])},
                    present=[str(p) for g in row.get("absent", []) for p in tmp.glob(g)],
                )
        finally:
            zygote.close()

    threads = [threading.Thread(target=worker) for _ in range(max(1, min(WORKERS, len(ids))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture(scope="session")
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The outcome of every row this session selected, run together (in parallel)."""
    selected = [
        item.callspec.params["row_id"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_bad_input_row"
    ]
    return run_rows(list(dict.fromkeys(selected)), tmp_path_factory.mktemp("probe"))


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_bad_input_row(row_id: str, probe: dict[str, Outcome]) -> None:
    row = BY_ID[row_id][1]
    got = probe[row_id]
    shown = f"exit {got.exit}\nstderr:\n{got.stderr[-3000:]}"
    assert "Traceback" not in got.stderr, shown
    assert got.exit == row["exit"], shown
    errors = [line for line in got.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, shown
    for word in row["words"]:
        assert word in errors[0], f"{word!r} missing from: {errors[0]}"
    if row.get("alone"):
        assert [line for line in got.stderr.splitlines() if line.strip()] == errors, shown
    for pattern, files in got.before.items():
        assert files, f"unchanged glob {pattern!r} matched no file: the row checks nothing"
        assert got.after[pattern] == files, f"{pattern}: files changed or removed"
    assert not got.present, f"created, though it must not exist: {got.present}"


def test_rows_are_well_formed() -> None:
    ids = [row["id"] for _, row in ROWS]
    assert len(ids) == len(set(ids)), "row ids must be unique over all case modules"
    for module, row in ROWS:
        assert set(row) <= ROW_KEYS, f"{row['id']}: unknown keys {set(row) - ROW_KEYS}"
        assert {"id", "argv", "exit", "words"} <= set(row), row["id"]
        assert isinstance(row["exit"], int) and row["exit"] != 0, row["id"]
        assert row["words"] and all(isinstance(w, str) for w in row["words"]), row["id"]
        if row.get("setup"):
            assert callable(getattr(module, row["setup"], None)), row["id"]


def test_every_command_and_file_type_is_covered() -> None:
    """The probe's promise: every command, and every kind of file the library reads."""
    commands = {row["argv"][0] for _, row in ROWS}
    wanted = {"fit", "validate", "test", "predict", "check", "grid", "study", "report", "compare"}
    assert wanted <= commands, f"no row for {sorted(wanted - commands)}"
    from bad_input_cases_files import FILE_KINDS

    assert set(FILE_KINDS) == {"image", "config", "result JSON", "checkpoint"}
    for kind, ids in FILE_KINDS.items():
        assert ids and set(ids) <= set(BY_ID), kind


def _table_script() -> ModuleType:
    script = REPO / "scripts" / "bad_input_table.py"
    spec = importlib.util.spec_from_file_location("bad_input_table", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_lists_every_row() -> None:
    """docs/guides/bad-input.md's generated table is the rows' (run the script to refresh)."""
    script = _table_script()
    page = (REPO / script.PAGE).read_text()
    assert script.section(page) == script.render(ROWS), (
        "docs/guides/bad-input.md is out of date: run `python scripts/bad_input_table.py`"
    )
