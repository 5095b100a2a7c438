"""benchmarks/framework_overhead.py: the interleaved pairs, their interval and the verdict
(the timing functions are replaced, so nothing here is timed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import framework_overhead as overhead  # noqa: E402


def test_interval_is_the_student_t_interval_of_the_mean() -> None:
    mean, low, high = overhead.confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(
        4.302653 * 1.0 / 3**0.5, rel=1e-5
    )  # t(0.975, 2) * s / sqrt(n)
    assert mean - low == pytest.approx(high - mean)


@pytest.mark.parametrize(
    ("low", "high", "converged", "expected"),
    [
        (-2.0, -1.0, True, "within 3%"),
        (-5.0, -4.0, True, "NOT within 3%"),
        (-4.0, -2.0, True, "undecided about 3%"),
        (-2.0, -1.0, False, "inconclusive (CI not narrow enough in time; within 3% so far)"),
    ],
)
def test_verdict(low: float, high: float, converged: bool, expected: str) -> None:
    assert overhead.verdict(low, high, converged) == expected


def fake_runs(
    monkeypatch: pytest.MonkeyPatch, lightning: list[float], plain: list[float]
) -> list[str]:
    calls: list[str] = []

    def timed(name: str, values: list[float]):
        def run(*args) -> float:
            calls.append(name)
            return values[min(len([c for c in calls if c == name]) - 1, len(values) - 1)]

        run.__name__ = f"{name}_seconds"
        return run

    monkeypatch.setattr(overhead, "lightning_seconds", timed("lightning", lightning))
    monkeypatch.setattr(overhead, "plain_loop_seconds", timed("plain_loop", plain))
    return calls


def test_pairs_alternate_and_stop_once_the_interval_is_narrow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = fake_runs(
        monkeypatch, lightning=[9.0, 2.0], plain=[9.0, 1.98]
    )  # first of each: warm-up
    args = argparse.Namespace(steps=1, min_pairs=4, ci_width=2.0, max_seconds=60.0)
    row = overhead.interleaved(type("Model", (), {}), None, None, args)
    assert calls[:2] == ["lightning", "plain_loop"]  # the warm-up pair
    assert (
        calls[2:] == ["lightning", "plain_loop", "plain_loop", "lightning"] * 2
    )  # alternating order
    assert row[1] == 4 and row[2] == "-1.0%" and row[-1] == "within 3%"


def test_out_of_time_says_inconclusive_with_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_runs(monkeypatch, lightning=[1.0, 1.0, 1.0], plain=[1.0, 0.9, 1.1])
    args = argparse.Namespace(steps=1, min_pairs=4, ci_width=2.0, max_seconds=0.0)
    row = overhead.interleaved(type("Model", (), {}), None, None, args)
    assert row[1] == 1 and row[3] == "[-inf, +inf]" and row[-1].startswith("inconclusive")
