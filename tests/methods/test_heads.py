"""Heads as their papers define them, checked layer by layer.

* SimCLR (NT-Xent): the H-SSL paper's head, Linear + BN per layer, ReLU between, BN last.
* VICReg: expander Linear-BN-ReLU, Linear-BN-ReLU, Linear (ends in a Linear with bias).
* Barlow Twins: the same shape as VICReg's expander.
* BYOL: projector and predictor end in a Linear (no final BatchNorm); EMA base momentum 0.996.
"""

from __future__ import annotations

import pytest
from torch import nn

from structured_ssl.groups import Group
from structured_ssl.methods import StructuredSSL
from structured_ssl.ssl.losses import BYOL, BarlowTwins, NTXent, VICReg


def layout(head: nn.Module) -> list[str]:
    """e.g. ['Linear(32->128, bias=False)', 'BN(128)', 'ReLU', ...]."""
    names = []
    for layer in head:
        if isinstance(layer, nn.Linear):
            names.append(
                f"Linear({layer.in_features}->{layer.out_features}, bias={layer.bias is not None})"
            )
        elif isinstance(layer, nn.BatchNorm1d):
            names.append(f"BN({layer.num_features})")
        else:
            names.append(type(layer).__name__)
    return names


def model(loss: nn.Module) -> StructuredSSL:
    return StructuredSSL(
        group=Group("rotation", 4), loss=loss, projector=(64, 48, 40), predictor=(24,)
    )


def test_simclr_head_is_the_papers_with_batchnorm_after_every_layer() -> None:
    head = model(NTXent()).projector
    assert layout(head) == [
        "Linear(32->64, bias=False)", "BN(64)", "ReLU",
        "Linear(64->48, bias=False)", "BN(48)", "ReLU",
        "Linear(48->40, bias=False)", "BN(40)",
    ]  # fmt: skip


@pytest.mark.parametrize("loss", [VICReg(), BarlowTwins()], ids=["VICReg", "BarlowTwins"])
def test_vicreg_and_barlow_expanders_end_in_linear(loss: nn.Module) -> None:
    head = model(loss).projector
    assert layout(head) == [
        "Linear(32->64, bias=False)", "BN(64)", "ReLU",
        "Linear(64->48, bias=False)", "BN(48)", "ReLU",
        "Linear(48->40, bias=True)",
    ]  # fmt: skip


def test_byol_projector_and_predictor_end_in_linear_and_ema_starts_at_0996() -> None:
    method = model(BYOL())
    assert layout(method.projector)[-1] == "Linear(48->40, bias=True)"
    assert layout(method.predictor) == [
        "Linear(40->24, bias=False)",
        "BN(24)",
        "ReLU",
        "Linear(24->40, bias=True)",
    ]
    assert method.ema_momentum == 0.996
    assert layout(method.target["projector"]) == layout(method.projector)
