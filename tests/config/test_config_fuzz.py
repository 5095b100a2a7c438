"""Fuzz over the shipped configs: one field replaced by a wrong type, an out-of-range number,
an unknown name or an empty container, run through ``fit`` up to the model build.

Every case must end in exit 2 with ONE ``error:`` line, or reach the build (the encoder factory
is replaced by a stub that stops there: the case "runs"); never a traceback, a hang or a
runaway allocation. Hypothesis draws the cases (derandomized: the same cases on every run);
they run in one worker process under a memory cap and a per-case alarm
(``tests/config/fuzz_worker.py``), so a setting that escapes the checks fails this test with its
name instead of exhausting the machine. The default profile is ``FUZZ_EXAMPLES`` (30) cases;
``pytest -m fuzz_long`` runs the long profile (``FUZZ_LONG_EXAMPLES``, 300).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("fuzz_worker.py")
# config stacks that need no data files: the default run and composed grid cells of each kind
STACKS: tuple[tuple[str, ...], ...] = (
    ("configs/default.yaml",),
    (
        "configs/objectives/augmentation.yaml",
        "configs/datasets/digits.yaml",
        "configs/groups/scale.yaml",
    ),
    (
        "configs/objectives/structured.yaml",
        "configs/datasets/digits.yaml",
        "configs/groups/translation.yaml",
    ),
    (
        "configs/objectives/hybrid.yaml",
        "configs/datasets/digits.yaml",
        "configs/groups/dihedral.yaml",
    ),
)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
LONG_EXAMPLES = int(os.environ.get("FUZZ_LONG_EXAMPLES", "300"))


def leaves(node: Any, prefix: str = "") -> list[str]:
    """Dotted paths of a config's settings (callbacks and logger are not the user's fields)."""
    if isinstance(node, dict):
        found: list[str] = []
        for key, value in node.items():
            if key in ("callbacks", "logger"):
                continue
            found += leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    return [prefix] if prefix else []


def fields_of(stack: tuple[str, ...]) -> list[str]:
    return sorted(
        {leaf for c in stack for leaf in leaves(yaml.safe_load((REPO / c).read_text()) or {})}
    )


WRONG = st.one_of(
    st.sampled_from(
        [
            "abc",
            "",
            "-1",
            "0",
            "1e309",
            "nan",
            "[]",
            "{}",
            "null",
            "[0,0,0]",
            "-5",
            "3.5",
            "true",
            "rotaton",
            "structured_ssl.nope.Nope",
        ]
    ),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
)


def draw_cases(count: int) -> list[dict[str, Any]]:
    """``count`` cases (stack, field, wrong value), the same on every run."""
    cases: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        stack = data.draw(st.sampled_from(STACKS))
        field = data.draw(st.sampled_from(fields_of(stack)))
        case = {
            "configs": [str(REPO / c) for c in stack],
            "field": field,
            "value": data.draw(WRONG),
        }
        if case not in cases:
            cases.append(case)

    collect()
    return cases


def run_cases(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, str(WORKER), str(cases_file), str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60 * len(cases) + 120,
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(cases), (done.returncode, done.stderr[-3000:])
    return results


def misbehaved(result: dict[str, Any]) -> bool:
    """Neither the build reached nor exit 2 with exactly one ``error:`` line."""
    if result["outcome"] == "built":
        return False
    lines = result["lines"]
    return not (
        result["outcome"] == "exit"
        and result["code"] == 2
        and len(lines) == 1
        and lines[0].startswith("error: ")
    )


def assert_all_behave(results: list[dict[str, Any]]) -> None:
    bad = [r for r in results if misbehaved(r)]
    assert not bad, "\n\n".join(
        f"--{r['case']['field']}={r['case']['value']!r} on {[Path(c).name for c in r['case']['configs']]}: "
        f"{r['outcome']} {r.get('code')} {r['lines'][:5]} {r.get('traceback', '')[-800:]}"
        for r in bad
    )


def test_the_cases_cover_every_stack_and_both_outcomes(tmp_path: Path) -> None:
    """The default profile is not vacuous: every stack is drawn, and some cases are refused
    while others reach the build (a fuzz whose cases all end one way tests nothing)."""
    cases = draw_cases(EXAMPLES)
    assert {tuple(c["configs"]) for c in cases} == {
        tuple(str(REPO / c) for c in stack) for stack in STACKS
    }
    results = run_cases(cases, tmp_path)
    assert_all_behave(results)
    outcomes = {r["outcome"] for r in results}
    assert outcomes == {"exit", "built"}, outcomes


@pytest.mark.parametrize(
    "field,value",
    [
        ("model.init_args.group.order", "80000"),
        ("data.init_args.image_size", "100001"),
        ("trainer.devices", "1000000"),
    ],
)
def test_settings_that_once_ran_away_are_refused_before_the_build(
    field: str, value: str, tmp_path: Path
) -> None:
    """Each of these once allocated tens of GB or started a process per device: now one line."""
    case = {"configs": [str(REPO / "configs/default.yaml")], "field": field, "value": value}
    [result] = run_cases([case], tmp_path)
    assert not misbehaved(result) and result["outcome"] == "exit", result
    assert field.split(".")[-1] in result["lines"][0] and value in result["lines"][0]


@pytest.mark.fuzz_long
def test_fuzzed_fields_long_profile(tmp_path: Path) -> None:
    assert_all_behave(run_cases(draw_cases(LONG_EXAMPLES), tmp_path))
