"""A stand-in with lightly's loss signature, for machines where lightly cannot be imported.

``lightly.loss.NTXentLoss(temperature=0.5, memory_bank_size=0, gather_distributed=False)``
is called as ``loss(out0, out1)`` on two ``(B, D)`` batches and returns a scalar. This class
has the same constructor and call, computes the same NT-Xent, and records its calls so a test
can tell that training went through it. Named by ``class_path: lightly_standin.NTXentLoss``
(``tests/`` is on the path under pytest).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn


class NTXentLoss(nn.Module):
    calls: ClassVar[list[dict[str, object]]] = []

    def __init__(
        self,
        temperature: float = 0.5,
        memory_bank_size: int | tuple[int, int] = 0,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.memory_bank_size = memory_bank_size
        self.gather_distributed = gather_distributed

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        z = nn.functional.normalize(torch.cat([out0, out1]), dim=1)
        logits = z @ z.T / self.temperature
        logits = logits.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), -1e9)
        n = len(out0)
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
        loss = nn.functional.cross_entropy(logits, targets)
        NTXentLoss.calls.append(
            {
                "shapes": (tuple(out0.shape), tuple(out1.shape)),
                "temperature": self.temperature,
                "requires_grad": loss.requires_grad,
            }
        )
        return loss
