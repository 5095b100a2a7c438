"""benchmarks/gpu.py: its table code runs on CPU (--cpu_smoke), and without CUDA it stops
with one line instead of pretending to measure."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpu  # noqa: E402


def test_cpu_smoke_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    rows = gpu.main(
        [
            "--cpu_smoke",
            "--backbones",
            "paper_mnist",
            "--groups",
            "translation",
            "--objectives",
            "StructuredSSL",
            "Supervised",
        ]
    )
    assert [(r["objective"], r["batch"]) for r in rows] == [("StructuredSSL", 4), ("Supervised", 4)]
    assert all(
        r["images_per_s"] > 0 and math.isclose(r["images_per_s"] * r["step_ms"], 4000) for r in rows
    )
    out = capsys.readouterr().out
    assert "| " + " | ".join(gpu.HEADERS) + " |" in out
    assert out.count("| paper_mnist | translation |") == 2


def test_without_cuda_exits_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        gpu.main([])
    assert "needs a CUDA device" in str(info.value) and "\n" not in str(info.value)
