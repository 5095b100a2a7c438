"""The end-of-fit table's parts: a seeded random backbone, and a linear evaluation that can fail."""

from __future__ import annotations

import torch

from structured_ssl.callbacks.fit_summary import linear_test_accuracy, random_backbone
from structured_ssl.groups import Group
from structured_ssl.methods import StructuredSSL


def test_random_backbone_is_the_same_encoder_untrained_and_seeded() -> None:
    trained = StructuredSSL(group=Group("rotation", 4))
    with torch.no_grad():
        for p in trained.encoder.parameters():
            p.add_(1.0)  # stands in for training
    first = random_backbone(trained, seed=0)
    torch.rand(3)  # the run's own RNG moves on: the reference must not depend on it
    second = random_backbone(trained, seed=0)
    shapes = [p.shape for p in trained.encoder.parameters()]
    assert [p.shape for p in first.encoder.parameters()] == shapes
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.encoder.parameters(), second.encoder.parameters(), strict=True)
    )
    assert not all(
        torch.equal(a, b)
        for a, b in zip(first.encoder.parameters(), trained.encoder.parameters(), strict=True)
    )
    state = torch.random.get_rng_state()
    random_backbone(trained, seed=0)
    assert torch.equal(state, torch.random.get_rng_state()), (
        "building the reference must not move the run's RNG"
    )


def test_linear_evaluation_separates_separable_data_and_not_shuffled_labels() -> None:
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    x = torch.randn(400, 8, generator=generator) + 4 * torch.nn.functional.one_hot(y, 8).float()
    identity = lambda t: t  # noqa: E731
    train, test = (x[:300], y[:300]), (x[300:], y[300:])
    assert linear_test_accuracy(identity, train, test, 4, l2=1e-4) > 0.95
    shuffled = (x[:300], y[:300][torch.randperm(300, generator=generator)])
    assert linear_test_accuracy(identity, shuffled, test, 4, l2=1e-4) < 0.5
