"""The report: our grid's cells beside the paper's Tables 1 and 2, and Figure 2's studies."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_grid import tiny_grid

from structured_ssl.reporting.report import main as report_main
from structured_ssl.reporting.report import paper_results


def test_paper_results_cover_both_tables() -> None:
    paper = paper_results()
    assert "2211.08282" in paper["source"] and "TMLR" in paper["source"]
    assert len(paper["tables"]["table1"]["rows"]) == 8
    assert len(paper["tables"]["table2"]["rows"]) == 3
    first = paper["tables"]["table1"]["rows"][0]
    assert (first["data"], first["group"]) == ("mnist", "rotation")
    assert first["results"]["H-SSL"] == {"mean": 70.3, "std": 5.4}


def test_report_prints_every_cell_beside_the_paper(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tiny_grid(tmp_path_factory.getbasetemp())  # reuses test_grid's runs when it ran first
    capsys.readouterr()
    out = tmp_path_factory.mktemp("report")
    report_main([str(grid), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "digits (vs MNIST)" in printed
    row = next(
        line
        for line in printed.splitlines()
        if line.startswith("| digits (vs MNIST) | translation")
    )
    # H-SSL (structured) and Frozen were run: ours, the paper's and the difference
    assert "paper 96.0 ± 1.3 · Δ" in row and "paper 94.1 ± 0.3 · Δ" in row
    assert row.count("ours —") == 2  # A-SSL and Supervised were not requested
    with (out / "report.csv").open() as handle:
        cells = {(r["group"], r["column"]): r for r in csv.DictReader(handle)}
    for column, paper in (("H-SSL", 96.0), ("Frozen", 94.1)):
        cell = cells[("translation", column)]
        assert cell["ours_n"] == "2" and float(cell["paper_mean"]) == paper
        assert float(cell["difference"]) == pytest.approx(float(cell["ours_mean"]) - paper)


def test_unstructured_runs_land_in_table_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # results as the runner writes them, without training: only the placement is tested here
    for seed, value in enumerate((0.5, 0.6)):
        result = {
            "dataset": "mnist", "objective": "augmentation", "group": "scale_unstructured", "seed": seed,
            "model": {"class": "AugmentationSSL", "group": {"kind": "scale", "scales": [1.0, 1.25]},
                      "encoder_spec": {"structured": False}},
            "test": {"test/linear_acc": value},
        }  # fmt: skip
        path = (
            tmp_path / "results" / "mnist" / "augmentation_scale_unstructured" / f"seed{seed}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    report_main([str(tmp_path)])
    printed = capsys.readouterr().out
    table2 = printed.split("## Table 2")[1]
    row = next(line for line in table2.splitlines() if line.startswith("| MNIST | scale"))
    assert "ours 55.0 ± 7.1 (n=2) · paper 95.2 ± 0.1 · Δ -40.2" in row


def test_figure2_from_study_outputs(tmp_path: Path) -> None:
    for parameter in ("g0_size", "max_distance"):
        folder = tmp_path / parameter
        folder.mkdir()
        lines = ["parameter,value,objective,metric,mean,std,n,dataset,group"]
        lines += [
            f"{parameter},{v},{o},test/probe_acc,{50 + v},1.0,3,digits,rotation"
            for v in (1, 2)
            for o in ("structured", "augmentation")
        ]
        (folder / "summary.csv").write_text("\n".join(lines) + "\n")
    report_main(
        [
            "--studies",
            str(tmp_path / "g0_size"),
            str(tmp_path / "max_distance"),
            "--out",
            str(tmp_path / "fig"),
        ]
    )
    for name in ("figure2_g0_size.png", "figure2_max_distance.png"):
        assert (tmp_path / "fig" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_single_seed_shows_no_spread() -> None:
    """One value has no std: ``85.2 (n=1)``, never ``85.2 ± 0.0`` (grid and report alike)."""
    from structured_ssl.experiments.tables import summarize

    assert summarize([85.2]).format(digits=1) == "85.2 (n=1)"
    assert summarize([85.0, 86.0]).format(digits=1, expected=3) == "85.5 ± 0.7 (n=2)"
