"""scripts/monitor_table.py: the monitor's last values per cell, averaged over seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import monitor_table  # noqa: E402


def test_means_over_seeds_per_cell_and_runs_without_the_monitor_are_left_out(
    tmp_path: Path,
) -> None:
    cell = tmp_path / "results" / "mnist" / "structured_scale"
    cell.mkdir(parents=True)
    for seed, fiber in ((0, 0.01), (1, 0.03)):
        fit = {
            "val/equivariance_error": 0.1,
            "val/fiber_equivariance_error": fiber,
            "val/no_shift_fiber_error": 0.2,
        }
        (cell / f"seed{seed}.json").write_text(
            json.dumps({"objective": "structured", "group": "scale", "fit": fit})
        )
    (cell / "seed2.json").write_text(
        json.dumps({"objective": "structured", "group": "scale", "fit": {}})
    )
    rows = monitor_table.main(tmp_path).splitlines()
    assert rows[2] == "| structured | scale | 2 | 0.1 | 0.02 | 0.2 |"
    assert len(rows) == 3
