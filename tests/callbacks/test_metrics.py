"""Evaluation metrics: kNN and linear probe on synthetic embeddings, the equivariance error."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from structured_ssl.callbacks.fiber_figure import fiber_similarity
from structured_ssl.callbacks.hparams_logging import plain_value
from structured_ssl.callbacks.metrics import WeightedKNN, equivariance_error, fit_linear_classifier
from structured_ssl.encoders import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.lifted.modes import eval_mode
from structured_ssl.methods.linear_eval import linear_classifier


def clusters(n: int, classes: int = 10, dim: int = 32, noise: float = 0.3, seed: int = 0):
    """Separable embeddings: one random centre per class plus small noise."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(123))
    labels = torch.randint(0, classes, (n,), generator=generator)
    features = centres[labels] + noise * torch.randn(n, dim, generator=generator)
    return features, labels


def test_knn_separable_embeddings_are_classified_almost_perfectly() -> None:
    train_x, train_y = clusters(500, seed=0)
    test_x, test_y = clusters(200, seed=1)
    knn = WeightedKNN(train_x, train_y, k=20, temperature=0.07)
    for chunk_x, chunk_y in zip(test_x.split(64), test_y.split(64), strict=True):  # several updates
        knn.update(chunk_x, chunk_y)
    assert knn.compute() > 0.98


def test_knn_random_labels_stay_near_chance() -> None:
    train_x, _ = clusters(500, seed=0)
    test_x, _ = clusters(300, seed=1)
    knn = WeightedKNN(train_x, torch.randint(0, 10, (500,)), num_classes=10)
    knn.update(test_x, torch.randint(0, 10, (300,)))
    assert knn.compute() < 0.25


def test_knn_vote_is_weighted_by_cosine_similarity() -> None:
    # one very close neighbour of class 1 outvotes two farther ones of class 0 at low temperature
    bank = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]])
    knn = WeightedKNN(bank, torch.tensor([1, 0, 0]), k=3, temperature=0.05)
    assert knn.predict(torch.tensor([[2.0, 0.0]])).tolist() == [1]  # scale does not matter: cosine
    # at a high temperature the weights flatten and the majority wins
    flat = WeightedKNN(bank, torch.tensor([1, 0, 0]), k=3, temperature=100.0)
    assert flat.predict(torch.tensor([[1.0, 0.0]])).tolist() == [0]


def test_knn_without_memory_bank_says_so() -> None:
    with pytest.raises(RuntimeError, match="memory bank"):
        WeightedKNN().update(torch.randn(2, 4), torch.tensor([0, 1]))


def train_probe(
    features: torch.Tensor, labels: torch.Tensor, classes: int = 10, steps: int = 150
) -> torch.nn.Module:
    probe = linear_classifier(features.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(probe(features), labels).backward()
        optimizer.step()
    return probe.eval()


def accuracy(probe: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((probe(features).argmax(1) == labels).float().mean())


def test_linear_probe_separates_clusters_and_not_random_labels() -> None:
    train_x, train_y = clusters(500, seed=0)
    test_x, test_y = clusters(200, seed=1)
    assert accuracy(train_probe(train_x, train_y), test_x, test_y) > 0.98
    random_probe = train_probe(train_x, torch.randint(0, 10, (500,)))
    assert accuracy(random_probe, test_x, torch.randint(0, 10, (200,))) < 0.25


def test_converged_linear_classifier_separates_clusters_and_not_random_labels() -> None:
    train_x, train_y = clusters(500, seed=0)
    test_x, test_y = clusters(200, seed=1)
    shifted = 5.0 + 0.01 * train_x  # badly scaled features: the fit standardises them itself
    assert accuracy(fit_linear_classifier(shifted, train_y, 10), 5.0 + 0.01 * test_x, test_y) > 0.98
    random = fit_linear_classifier(train_x, torch.randint(0, 10, (500,)), 10)
    assert accuracy(random, test_x, torch.randint(0, 10, (200,))) < 0.25


def test_converged_linear_classifier_fits_under_inference_mode() -> None:
    # Lightning runs `test` hooks under torch.inference_mode: the fit must still train
    train_x, train_y = clusters(300, seed=0)
    with torch.inference_mode():
        classifier = fit_linear_classifier(train_x, train_y, 10)
        assert accuracy(classifier, train_x, train_y) > 0.98


def test_converged_linear_classifier_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match=r"features \(5, 3\) and labels \(4,\)"):
        fit_linear_classifier(torch.randn(5, 3), torch.zeros(4, dtype=torch.long), 2)


@functools.cache
def encoder(structured: bool):
    torch.manual_seed(0)
    return build_encoder(
        EncoderSpec(structured=structured), Group("rotation", 4), in_channels=1, image_size=21
    )


def test_equivariance_error_is_zero_for_escnn_and_large_for_the_unstructured_twin() -> None:
    x = torch.rand(4, 1, 21, 21)
    assert float(equivariance_error(encoder(True), x)) < 1e-4
    assert float(equivariance_error(encoder(False), x)) > 0.1
    one = equivariance_error(encoder(False), x, num_elements=1, seed=3)
    assert one.shape == () and float(one) > 0.1


def test_evaluation_leaves_modes_and_batch_norm_statistics_alone() -> None:
    enc = encoder(False).train()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    equivariance_error(enc, torch.rand(4, 1, 21, 21))
    fiber_similarity(enc, torch.rand(4, 1, 21, 21))
    assert all(m.training for m in enc.modules())
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    with eval_mode(enc):  # a deliberately frozen part keeps its mode
        pass
    enc.net[0].eval()
    with eval_mode(enc):
        assert not enc.training
    assert enc.training and not enc.net[0].training


def test_fiber_similarity_is_a_cosine_matrix() -> None:
    matrix = fiber_similarity(encoder(True), torch.rand(3, 1, 21, 21))
    assert matrix.shape == (4, 4)
    assert torch.allclose(matrix.diagonal(), torch.ones(4), atol=1e-5)
    assert torch.allclose(matrix, matrix.T, atol=1e-6)


def test_hyperparameters_become_plain_values() -> None:
    from structured_ssl.ssl.losses import NTXent

    plain = plain_value(
        {
            "group": Group("rotation", 4),
            "loss": {
                "class_path": "structured_ssl.ssl.losses.NTXent",
                "init_args": {"temperature": 0.1},
            },
            "module": NTXent(),
            "widths": (8, 16),
            "class_path": None,
            "_instantiator": "x",
        }
    )
    assert plain["group"]["kind"] == "rotation" and plain["group"]["order"] == 4
    assert plain["loss"] == {"class": "NTXent", "temperature": 0.1}
    assert (
        plain["module"] == "NTXent"
        and plain["widths"] == "[8, 16]"
        and plain["class_path"] == "None"
    )
    assert "_instantiator" not in plain
