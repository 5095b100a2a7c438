"""Bad input, round two (issue 23, item 3): config files, sweeps and reports.

A YAML syntax error names file:line:col; an empty or comment-only overlay is accepted as empty;
``grid`` / ``study`` refuse names no dataset offers; ``report`` / ``compare`` refuse a missing
folder without creating it. Each ends in ONE ``error:`` line and exit 2 (docs/guides/bad-input.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from structured_ssl.cli import main
from structured_ssl.experiments import grid, study
from structured_ssl.reporting import compare, report

REPO = Path(__file__).resolve().parents[2]
DEFAULT = str(REPO / "configs/default.yaml")
CONFIGS = str(REPO / "configs")


def refused(call, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        call()
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_epochs: 1\nmodel: {a: 1\n  b: 2\n")
    line = refused(lambda: main(["fit", f"--config={DEFAULT}", f"--config={bad}"]), capsys)
    assert f"{bad}:4:4:" in line and "flow mapping" in line, line


@pytest.mark.parametrize("text", ["", "# only a comment\n\n# another\n"])
def test_an_empty_overlay_is_accepted_as_empty(text, tmp_path, capsys) -> None:
    overlay = tmp_path / "empty.yaml"
    overlay.write_text(text)
    with pytest.raises(SystemExit) as info:  # --print_config exits 0 after printing
        main(["fit", "--config", DEFAULT, "--config", str(overlay), "--print_config"])
    out = capsys.readouterr()
    assert info.value.code in (0, None), out.err
    assert "max_epochs:" in out.out and "error" not in out.err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dataset", "svhn"], "--dataset svhn: not offered by"),
        (["--objectives", "structured", "foo"], "--objectives foo: not offered by"),
        (["--groups", "hexagon"], "--groups hexagon: not offered by"),
    ],
)
def test_grid_refuses_unknown_names(flags, expected, tmp_path, capsys) -> None:
    out = tmp_path / "g"
    line = refused(lambda: grid.main([*flags, "--configs", CONFIGS, "--out", str(out)]), capsys)
    assert expected in line and "allowed: " in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["max_distance", "--dataset", "svhn"], "--dataset svhn: not offered"),
        (["max_distance", "--objectives", "foo"], "--objectives foo: not offered"),
        (["max_distance", "--group", "hexagon"], "--group hexagon: not offered"),
        (["nope"], "parameter='nope': not a study parameter; allowed: "),
    ],
)
def test_study_refuses_unknown_names(flags, expected, tmp_path, capsys) -> None:
    out = tmp_path / "s"
    argv = [*flags, "--values", "1", "--configs", CONFIGS, "--out", str(out)]
    line = refused(lambda: study.main(argv), capsys)
    assert expected in line, line
    assert not out.exists()


def test_report_and_compare_refuse_a_missing_folder_without_creating_it(tmp_path, capsys) -> None:
    missing = tmp_path / "nope"
    assert "not a folder" in refused(lambda: report.main([str(missing)]), capsys)
    assert not missing.exists()
    assert "not a directory" in refused(lambda: compare.main([str(missing)]), capsys)
    assert not missing.exists()
