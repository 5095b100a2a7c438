"""Evaluation metrics that need no training: weighted kNN accuracy and the equivariance error.

* :class:`WeightedKNN` is the label-free check of an embedding used by InstDisc and
  solo-learn: each test embedding votes with its k most cosine-similar training embeddings,
  weighted by ``exp(similarity / T)``. Unlike a linear probe it has nothing to train, so it
  measures the embedding itself, not how well an optimiser did.
* :func:`equivariance_error` measures ``||f(T_g x) - Γ_g f(x)|| / ||Γ_g f(x)||`` with the
  group actions every encoder declares (:class:`~structured_ssl.lifted.contract.EquivariantEncoder`). It is
  ~0 for an escnn encoder on exact elements and clearly positive for the unstructured twin,
  which is what makes structured SSL's positive pairs meaningful (or not).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric

from structured_ssl.encoders.equivariance import measure
from structured_ssl.lifted.contract import Element, EquivariantEncoder

KNN_K = 20
KNN_TEMPERATURE = 0.07


class WeightedKNN(Metric):
    """Weighted k-nearest-neighbour accuracy on L2-normalised embeddings (cosine similarity).

    The memory bank (training embeddings and labels) is passed in, once or per epoch with
    :meth:`set_memory_bank`; ``update(features, labels)`` classifies a batch of test embeddings
    and ``compute()`` returns the accuracy. Prediction: the class with the largest sum of
    ``exp(cos / temperature)`` over the ``k`` nearest bank entries (Wu et al. 2018, InstDisc).

    Args:
        train_features: ``(N, D)`` bank embeddings (normalised here).
        train_labels: ``(N,)`` int labels.
        k: neighbours (capped at the bank size).
        temperature: softness of the vote weights.
        num_classes: number of classes (default: largest bank label + 1).
        chunk_size: test rows per similarity block, bounding memory at ``chunk_size x N``.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    # metric states and buffers, registered in __init__
    correct: torch.Tensor
    total: torch.Tensor
    bank_features: torch.Tensor
    bank_labels: torch.Tensor

    def __init__(
        self,
        train_features: torch.Tensor | None = None,
        train_labels: torch.Tensor | None = None,
        k: int = KNN_K,
        temperature: float = KNN_TEMPERATURE,
        num_classes: int | None = None,
        chunk_size: int = 1024,
    ) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k={k} must be >= 1")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0")
        self.k = k
        self.temperature = temperature
        self.num_classes = num_classes
        self.chunk_size = chunk_size
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")
        self.register_buffer("bank_features", torch.empty(0), persistent=False)
        self.register_buffer("bank_labels", torch.empty(0, dtype=torch.long), persistent=False)
        if train_features is not None or train_labels is not None:
            if train_features is None or train_labels is None:
                raise ValueError("pass both train_features and train_labels, or neither")
            self.set_memory_bank(train_features, train_labels)

    def set_memory_bank(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Replace the training embeddings the test embeddings vote with."""
        if features.dim() != 2 or labels.dim() != 1 or len(features) != len(labels):
            raise ValueError(
                f"memory bank: expected features (N, D) and labels (N,), got {tuple(features.shape)} "
                f"and {tuple(labels.shape)}"
            )
        if len(features) == 0:
            raise ValueError("memory bank is empty")
        self.bank_features = F.normalize(features.detach().float(), dim=1).to(self.device)
        self.bank_labels = labels.detach().long().to(self.device)

    @torch.no_grad()
    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Predicted labels ``(B,)`` of test embeddings ``(B, D)``."""
        if self.bank_features.numel() == 0:
            raise RuntimeError("WeightedKNN has no memory bank: call set_memory_bank first")
        classes = self.num_classes or int(self.bank_labels.max()) + 1
        k = min(self.k, len(self.bank_labels))
        query = F.normalize(features.detach().float(), dim=1).to(self.bank_features.device)
        predictions = []
        for chunk in query.split(self.chunk_size):
            similarity, index = (chunk @ self.bank_features.T).topk(k, dim=1)
            weights = (similarity / self.temperature).exp()
            votes = torch.zeros(len(chunk), classes, device=chunk.device, dtype=weights.dtype)
            votes.scatter_add_(1, self.bank_labels[index], weights)
            predictions.append(votes.argmax(dim=1))
        return torch.cat(predictions)

    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        predicted = self.predict(features)
        self.correct += (predicted == labels.to(predicted.device)).sum()
        self.total += labels.numel()

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total.clamp_min(1)


def non_identity_elements(encoder: EquivariantEncoder) -> list[Element]:
    """The exact elements of the encoder's group, without the identity (which always gives 0)."""
    return [g for g in encoder.group.exact_input_elements() if any(g)]


def equivariance_error(
    encoder: EquivariantEncoder,
    x: torch.Tensor,
    elements: Sequence[Element] | None = None,
    num_elements: int | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Mean relative error ``||f(T_g x) - Γ_g f(x)|| / ||Γ_g f(x)||`` on the LIFTED map.

    A thin reading of :func:`structured_ssl.encoders.equivariance.measure` (the one implementation the
    check command, tests and online monitor share), averaged over images and elements.

    Args:
        encoder: the encoder (its ``transform_input``/``transform_output`` define T_g and Γ_g).
        x: images ``(B, C, H, W)``.
        elements: group elements to average over (default: every non-identity exact element).
        num_elements: draw this many of them at random instead of using all (cheaper).
        seed: seeds that draw (reproducible), independently of global RNG state.
    """
    chosen = list(elements) if elements is not None else non_identity_elements(encoder)
    if not chosen:
        raise ValueError(f"group {encoder.group} has no non-identity exact elements to check")
    if num_elements is not None and num_elements < len(chosen):
        chosen = random.Random(seed).sample(chosen, num_elements)
    rows = measure(encoder, x, chosen)
    return torch.tensor(sum(r.lifted for r in rows) / len(rows), dtype=torch.float32)


def fit_linear_classifier(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    l2: float = 1e-4,
    max_iter: int = 200,
) -> nn.Module:
    """Multinomial logistic regression on frozen features, fitted to convergence.

    Why not SGD for a few epochs: at the tiny budgets of the embedded digits an SGD probe is
    still learning when the run ends, so its accuracy mixes "how good are the features" with
    "how far did the probe get". Full-batch L-BFGS on standardised features (what the linear
    evaluations of scikit-learn and many SSL papers do) answers only the first question.
    Starts from zero weights (the problem is convex), so the fit is deterministic and draws
    nothing from the global RNG. Stops when the largest gradient entry is below 1e-7, the loss
    changes by less than 1e-9, or after ``max_iter`` iterations (torch's L-BFGS defaults).
    Returns standardisation + linear layer as one module. Works under inference mode too.
    """
    if features.dim() != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"features {tuple(features.shape)} and labels {tuple(labels.shape)} do not match"
        )
    with torch.inference_mode(False), torch.enable_grad():
        x = features.detach().float().clone()
        y = labels.detach().long().clone()
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        x = (x - mean) / std
        linear = nn.Linear(x.shape[1], num_classes).to(x.device)
        (
            nn.init.zeros_(linear.weight),
            nn.init.zeros_(linear.bias),
        )  # convex: start at 0, no RNG draw
        optimizer = torch.optim.LBFGS(
            linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(linear(x), y) + l2 * linear.weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    classifier = _Standardised(mean, std, linear).requires_grad_(False)
    return classifier


class _Standardised(nn.Module):
    mean: torch.Tensor  # registered buffers
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, linear: nn.Linear) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x.float() - self.mean) / self.std)
