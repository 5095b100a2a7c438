"""Shared test settings: deterministic, small, CPU."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
warnings.filterwarnings("ignore", message=".*py3nj.*")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
