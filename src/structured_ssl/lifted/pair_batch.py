"""What a pair reader hands the objective: two bundle batches and the probe's features.

Below the groups, because a group whose fiber positions are its own (SO(2)'s angles,
``groups/so2/positions.py``) reads its pairs itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PairBatch:
    """Two bundle batches (the positive pairs, row by row) and the probe's features."""

    first: torch.Tensor  # (N, D)
    second: torch.Tensor  # (N, D)
    invariant: torch.Tensor  # (B, C), before detaching
    auxiliary: tuple[torch.Tensor, torch.Tensor] | None = (
        None  # a second pair (hybrid's A-SSL pair)
    )
    auxiliary_weight: float = 0.0  # loss = (1 - w) * main + w * auxiliary
