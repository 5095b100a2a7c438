"""Fuzz over the shipped configs: one field replaced by a wrong type, an out-of-range number,
an unknown name or an empty container, run through ``fit`` in-process up to the build.

Every case must end in exit 2 with ONE ``error:`` line, or reach the model build (the encoder
factory is replaced by a stub that stops there: the case "runs"); never anything else. The
default profile is small (``FUZZ_EXAMPLES``, 25 examples); ``pytest -m fuzz_long`` with
``FUZZ_EXAMPLES=500`` is the long profile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/default.yaml"]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# UNFINISHED (issue 23): 25 in-process examples were killed (memory) on the shared machine, so
# the default profile is kept behind the marker until each case runs in a lighter harness.
pytestmark = pytest.mark.fuzz_long


class Built(Exception):
    """The case got past every check: it would run."""


def leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "callbacks":
                continue
            yield from leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix


FIELDS = sorted(
    {
        leaf
        for c in CONFIGS
        for leaf in leaves(yaml.safe_load((REPO / c).read_text()))
        if leaf and not leaf.startswith("trainer.logger")
    }
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


def run_case(field: str, value: str, tmp_path: Path, capsys, monkeypatch) -> None:
    def built(*args, **kwargs):
        raise Built("a model was built: the case runs")

    monkeypatch.setattr("structured_ssl.methods.base.build_encoder", built)
    root = tmp_path / "runs"
    args = [
        "fit",
        "--config",
        str(REPO / CONFIGS[0]),
        f"--{field}={value}",
        f"--trainer.default_root_dir={root}",
        f"--trainer.logger.init_args.save_dir={root}",
    ]
    try:
        main(args)
    except SystemExit as exit_info:
        err = capsys.readouterr().err
        lines = [
            line
            for line in err.splitlines()
            if line.strip() and not line.startswith(("INFO:", "Seed set"))
        ]
        assert exit_info.code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
    except Exception as error:  # noqa: BLE001 - the stub's Built, possibly wrapped by jsonargparse
        chain, current = [], error
        while current is not None and current not in chain:
            chain.append(current)
            current = current.__cause__ or current.__context__
        assert any(isinstance(e, Built) for e in chain) or "Built" in str(error), (
            args,
            repr(error),
        )
        capsys.readouterr()


def fuzz(tmp_path_factory, capsys, monkeypatch, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(field=st.sampled_from(FIELDS), value=WRONG)
    def case(field: str, value: str) -> None:
        run_case(field, value, tmp_path_factory.mktemp("fuzz"), capsys, monkeypatch)

    case()


def test_fuzzed_fields_end_in_one_line_or_run(tmp_path_factory, capsys, monkeypatch) -> None:
    fuzz(tmp_path_factory, capsys, monkeypatch, EXAMPLES)


@pytest.mark.fuzz_long
def test_fuzzed_fields_long_profile(tmp_path_factory, capsys, monkeypatch) -> None:
    fuzz(tmp_path_factory, capsys, monkeypatch, max(EXAMPLES, 300))
