"""benchmarks/epoch_cost.py: the paired S-SSL / A-SSL ratio runs on a tiny setting (not timed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import epoch_cost  # noqa: E402


def test_paired_ratio_reports_the_median_inside_its_range() -> None:
    result = epoch_cost.paired_ratio("translation", rounds=3, steps_per_round=1)
    assert result["rounds"] == 3 and result["group"] == "translation"
    assert 0 < result["low"] <= result["median"] <= result["high"]
