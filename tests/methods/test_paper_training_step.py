"""One H-SSL training step of every paper ResNet and group, structured and Table 2 twin.

Batch 2 at the smallest sizes that keep the structure exact (``paper_layers`` module doc):
rotation and scale at 9 px (CIFAR-10 ResNet, side = 1 mod 4) and 17 px (Tiny ImageNet,
side = 1 mod 8); translation with circular padding at 16 / 32 px (a multiple of the total
stride, a 4x4 fiber grid). Each case checks the lifted shape, a finite loss, finite gradients
that reach every encoder layer, a moving SGD step, and (at init, before the step) the equivariance the structure claims:
exact (< 1e-4) for rotation and translation, far off (> 0.1) for the structure-free twins.
Scale errors on the paper's uneven scales are issue 13's (tests/groups/test_scale_equivariance.py).
"""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.callbacks.metrics import equivariance_error
from structured_ssl.encoders import EncoderSpec
from structured_ssl.encoders.paper import layer_strides
from structured_ssl.groups import PAPER_SCALES, Group
from structured_ssl.methods import StructuredSSL

GROUPS = {
    "rotation": Group("rotation", 4),
    "translation": Group("translation"),
    "scale": Group("scale", scales=PAPER_SCALES),
}
SIZES = {
    ("paper_cifar", "translation"): 16,
    ("paper_tiny", "translation"): 32,
    "paper_cifar": 9,
    "paper_tiny": 17,
}
CASES = [(a, k, s) for a in ("paper_cifar", "paper_tiny") for k in GROUPS for s in (True, False)]


def encoder_grads(model: StructuredSSL) -> list[torch.Tensor | None]:
    return [p.grad for p in model.encoder.parameters()]


@pytest.mark.parametrize("architecture,kind,structured", CASES)
def test_one_training_step(architecture: str, kind: str, structured: bool) -> None:
    size = SIZES.get((architecture, kind), SIZES[architecture])
    group = GROUPS[kind]
    spec = EncoderSpec(architecture=architecture, structured=structured, padding_mode="circular")
    model = StructuredSSL(
        group=group, encoder=spec, projector=(32, 32), in_channels=3, image_size=size
    )
    x = torch.rand(2, 3, size, size)

    error = float(equivariance_error(model.encoder, x, num_elements=2, seed=0))
    if not structured:
        assert error > 0.1, error
    elif kind != "scale":
        assert error < 1e-4, error
    else:
        assert math.isfinite(error)

    lifted = model.encoder(x)
    side = math.ceil(size / math.prod(layer_strides(architecture)))
    if structured or kind != "translation":
        assert lifted.shape == (2, 512, group.size, side, side), tuple(lifted.shape)
    else:  # the paper's MLP twin: 16 fake spatial fibers of 128
        assert lifted.shape == (2, 128, 1, 4, 4), tuple(lifted.shape)
    terms, invariant = model.ssl_terms(x)
    assert invariant.shape == (2, model.encoder.out_channels)
    assert torch.isfinite(terms["loss"]), terms
    terms["loss"].backward()
    grads = encoder_grads(model)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(bool(g.abs().sum() > 0) for g in grads) >= 0.9 * len(grads)
    before = [p.detach().clone() for p in model.encoder.parameters()]
    torch.optim.SGD(model.encoder.parameters(), lr=1e-3).step()
    assert any(
        not torch.equal(b, p) for b, p in zip(before, model.encoder.parameters(), strict=True)
    )
