"""Shared test settings: deterministic, small, CPU."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# the tests mirror the package (tests/groups, tests/encoders, ...); the support modules several
# folders share (cli_args, fault_injection, ddp_equivalence) stay here, importable from each
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
warnings.filterwarnings("ignore", message=".*py3nj.*")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
