"""Pair losses for self-supervised learning, as pure functions and as YAML-selectable modules.

Every loss takes two batches of embeddings whose rows ``i`` form a positive pair. The pure
functions ([`nt_xent`][structured_ssl.ssl.losses.nt_xent],
[`vicreg`][structured_ssl.ssl.losses.vicreg],
[`barlow_twins`][structured_ssl.ssl.losses.barlow_twins], [`byol`][structured_ssl.ssl.losses.byol])
know nothing about processes. The modules ([`NTXent`][structured_ssl.ssl.losses.NTXent],
[`VICReg`][structured_ssl.ssl.losses.VICReg],
[`BarlowTwins`][structured_ssl.ssl.losses.BarlowTwins], [`BYOL`][structured_ssl.ssl.losses.BYOL])
add the ONE distribution wrapper, `PairLoss.forward`: validate, gather both views from every process
with [`gather_with_grad`][structured_ssl.ssl.gather.gather_with_grad], compute in float32 with
autocast off, then call the pure function.

Global-batch semantics under DDP (N processes with B rows each): the loss DDP optimises (mean
over processes) and the parameter gradients (after DDP's 1/N average) equal those of one
process with batch N*B:

* VICReg and Barlow Twins compute the full loss on the gathered global batch on every process,
  so every process returns the same value. The gather's backward sums the N identical
  gradients; DDP's 1/N average undoes that.
* NT-Xent uses this process's pairs as anchors against the gathered global batch (2NB - 1
  candidates each, the positive index offset by rank). Each process returns the mean over ITS
  anchors; the mean over processes, which DDP optimises and ``self.log(..., sync_dist=True)``
  reports, is the global loss.
* BYOL's loss is a mean of per-row terms, so the local mean already has the right gradient
  after DDP's average; it needs no communication.

The EMA helpers of BYOL's target network (`momentum_at`, `ema_update_`) live in
[`structured_ssl.ssl.ema`][structured_ssl.ssl.ema]; import them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from structured_ssl.ssl.gather import gather_with_grad, rank, world_size
from structured_ssl.ssl.loss_checks import check_batch as _check_batch
from structured_ssl.ssl.loss_checks import check_nonnegative as _check_nonnegative
from structured_ssl.ssl.loss_checks import check_pair as _check_pair
from structured_ssl.ssl.loss_checks import check_positive as _check_positive

__all__ = [
    "BYOL",
    "BarlowTwins",
    "NTXent",
    "PairLoss",
    "VICReg",
    "barlow_twins",
    "barlow_twins_terms",
    "byol",
    "nonfinite_terms",
    "nt_xent",
    "vicreg",
    "vicreg_terms",
]


def _off_diagonal(m: Tensor) -> Tensor:
    """The off-diagonal entries of a square matrix, flattened."""
    d = m.shape[0]
    return m.masked_select(~torch.eye(d, dtype=torch.bool, device=m.device))


# --------------------------------------------------------------------------- pure functions
def nt_xent(
    z1: Tensor, z2: Tensor, temperature: float = 0.1, *, anchors: slice | None = None
) -> Tensor:
    """SimCLR's normalized temperature-scaled cross-entropy (Chen et al. 2020, eq. 1).

    Shapes: ``z1, z2: (M, D)``; returns a scalar. Rows are L2-normalised (cosine similarity).
    Each of the 2M embeddings is an anchor whose positive is the other view of its row and
    whose 2M - 2 negatives are all other embeddings; the loss is
    ``-log softmax(sim / temperature)[positive]`` over the 2M - 1 candidates (the anchor itself
    excluded), averaged over anchors, i.e. both directions.

    Args:
        anchors: rows of ``z1``/``z2`` that act as anchors (both views of each row); default all.
            Under DDP, [`NTXent`][structured_ssl.ssl.losses.NTXent] passes this process's rows of
            the gathered batch, so each process scores ``2B`` anchors against the global ``2M - 1``
            candidates.
    """
    _check_pair(z1, z2, "nt_xent")
    _check_batch("nt_xent", z1.shape[0], 2, "each anchor needs at least one negative")
    _check_positive("nt_xent", "temperature", temperature)
    m = z1.shape[0]
    start, stop, step = (anchors or slice(None)).indices(m)
    if step != 1 or stop <= start:
        raise ValueError(
            f"nt_xent: anchors must be a non-empty contiguous slice of range({m}), got {anchors}"
        )
    rows = torch.arange(start, stop, device=z1.device)
    u = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # (2M, D): view 1 rows, then view 2 rows
    anchor_index = torch.cat([rows, rows + m])  # (2A,)
    positive_index = torch.cat([rows + m, rows])  # view 1 <-> view 2 of the same row
    logits = u[anchor_index] @ u.T / temperature  # (2A, 2M)
    is_self = anchor_index[:, None] == torch.arange(2 * m, device=z1.device)[None, :]
    logits = logits.masked_fill(is_self, float("-inf"))
    return F.cross_entropy(logits, positive_index)


def vicreg_terms(z1: Tensor, z2: Tensor, eps: float = 1e-4) -> dict[str, Tensor]:
    """The three unweighted VICReg terms (Bardes, Ponce, LeCun, ICLR 2022), as in the official code.

    Shapes: ``z1, z2: (N, D)``; returns scalars. With ``Zc`` the batch-centred embeddings:

    * ``invariance``: ``mean((z1 - z2) ** 2)`` over all N*D entries (MSE).
    * ``variance``: ``(mean_j relu(1 - std(z1_j)) + mean_j relu(1 - std(z2_j))) / 2`` with
      ``std = sqrt(unbiased var + eps)`` and gamma = 1. The paper sums the two branches; the
      official code (facebookresearch/vicreg) halves the sum, which is what the default
      coefficients (25, 25, 1) were tuned with.
    * ``covariance``: ``sum_{i!=j} C(z1)_ij^2 / D + sum_{i!=j} C(z2)_ij^2 / D`` with
      ``C = Zc^T Zc / (N - 1)``, summed over the two branches.
    """
    _check_pair(z1, z2, "vicreg")
    _check_batch(
        "vicreg", z1.shape[0], 2, "the variance and covariance terms are unbiased batch statistics"
    )
    _check_positive("vicreg", "eps", eps)
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)
    variance = z1.new_zeros(())
    covariance = z1.new_zeros(())
    for z in (z1, z2):
        centred = z - z.mean(dim=0)
        std = torch.sqrt(centred.var(dim=0) + eps)
        variance = variance + F.relu(1.0 - std).mean() / 2
        cov = centred.T @ centred / (n - 1)
        covariance = covariance + _off_diagonal(cov).pow(2).sum() / d
    return {"invariance": invariance, "variance": variance, "covariance": covariance}


def vicreg(
    z1: Tensor,
    z2: Tensor,
    invariance: float = 25.0,
    variance: float = 25.0,
    covariance: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg's total loss (Bardes et al. 2022): the weighted sum of
    [`vicreg_terms`][structured_ssl.ssl.losses.vicreg_terms].

    Shapes: ``z1, z2: (N, D)``; returns a scalar. Default weights lambda=25, mu=25, nu=1.
    """
    terms = vicreg_terms(z1, z2, eps)
    return (
        invariance * terms["invariance"]
        + variance * terms["variance"]
        + covariance * terms["covariance"]
    )


def barlow_twins_terms(z1: Tensor, z2: Tensor, eps: float = 1e-5) -> dict[str, Tensor]:
    """Barlow Twins' two unweighted terms (Zbontar et al., ICML 2021, eq. 1-2).

    Shapes: ``z1, z2: (N, D)``; returns scalars. Each view is standardised over the batch
    (``(z - mean) / sqrt(biased var + eps)``, what the official code's affine-free BatchNorm1d
    does); ``C = z1n^T z2n / N`` is the ``(D, D)`` cross-correlation.

    * ``on_diagonal``: ``sum_i (1 - C_ii)^2``
    * ``off_diagonal``: ``sum_{i!=j} C_ij^2``
    """
    _check_pair(z1, z2, "barlow_twins")
    _check_batch("barlow_twins", z1.shape[0], 2, "embeddings are standardised over the batch")
    _check_positive("barlow_twins", "eps", eps)
    n = z1.shape[0]

    def standardise(z: Tensor) -> Tensor:
        centred = z - z.mean(dim=0)
        return centred / torch.sqrt(centred.pow(2).mean(dim=0) + eps)

    c = standardise(z1).T @ standardise(z2) / n
    return {
        "on_diagonal": (1.0 - torch.diagonal(c)).pow(2).sum(),
        "off_diagonal": _off_diagonal(c).pow(2).sum(),
    }


def barlow_twins(z1: Tensor, z2: Tensor, offdiag_weight: float = 5e-3, eps: float = 1e-5) -> Tensor:
    """Barlow Twins' loss (Zbontar et al. 2021): ``on_diagonal + offdiag_weight * off_diagonal``.

    Shapes: ``z1, z2: (N, D)``; returns a scalar. lambda = 5e-3 as in the paper.
    """
    terms = barlow_twins_terms(z1, z2, eps)
    return terms["on_diagonal"] + offdiag_weight * terms["off_diagonal"]


def _regression(p: Tensor, t: Tensor) -> Tensor:
    """``2 - 2 cos(p, stopgrad(t))`` per row, mean over the batch (the normalised MSE)."""
    return (2.0 - 2.0 * F.cosine_similarity(p, t.detach(), dim=1)).mean()


def byol(p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
    """BYOL's symmetrised loss (Grill et al., NeurIPS 2020, eq. 2 and the sum L + L~).

    Shapes: ``p1, p2, t1, t2: (N, D)``; returns a scalar in [0, 8]. ``p_k`` is the online
    predictor's output for view k and ``t_k`` the EMA target's projection of view k; the
    prediction of one view regresses the target of the OTHER view, with a stop-gradient on
    the target: ``mean(2 - 2 cos(p1, t2)) + mean(2 - 2 cos(p2, t1))``.
    """
    _check_pair(p1, p2, "byol", ("p1", "p2"))
    _check_pair(t1, t2, "byol", ("t1", "t2"))
    _check_pair(p1, t1, "byol", ("p1", "t1"))
    _check_batch("byol", p1.shape[0], 1, "a mean over the batch")
    return _regression(p1, t2) + _regression(p2, t1)


# --------------------------------------------------------------------------- plug-in modules
def _float32(z: Tensor) -> Tensor:
    """Half-precision inputs are upcast; float32 and float64 are kept."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def _no_autocast(device: torch.device):
    """Losses compute in float32: bf16 logits, variances and covariances are too coarse."""
    if device.type in ("cpu", "cuda", "xpu", "mps"):
        return torch.autocast(device_type=device.type, enabled=False)
    return nullcontext()


class PairLoss(nn.Module):
    """Base of the pair-loss plug-ins: validation, the DDP gather, float32, a dict of terms.

    ``forward(z1, z2)`` takes this process's ``(B, D)`` views and returns a dict with
    ``"loss"`` (the scalar to backpropagate) plus detached terms for logging. Subclasses
    implement [`terms`][structured_ssl.ssl.losses.PairLoss.terms] on the gathered global batch.

    ``needs_target``: True when the method must supply predictor outputs and EMA-target
    outputs instead (only [`BYOL`][structured_ssl.ssl.losses.BYOL]).
    """

    needs_target: ClassVar[bool] = False
    #: the projection head ends in BatchNorm (the H-SSL paper's SimCLR head) or in a plain
    #: Linear (VICReg's expander, Barlow Twins' and BYOL's projectors, as their papers define them)
    head_final_batchnorm: ClassVar[bool] = False
    #: global batch size the loss needs, and why (for the error message)
    min_global_batch: ClassVar[int] = 2
    min_batch_reason: ClassVar[str] = "batch statistics"

    def forward(self, z1: Tensor, z2: Tensor) -> dict[str, Tensor]:
        name = type(self).__name__
        _check_pair(z1, z2, name)
        b, d = z1.shape
        world = world_size()
        _check_batch(name, b, self.min_global_batch, self.min_batch_reason, world)
        with _no_autocast(z1.device):
            both = gather_with_grad(
                torch.cat([_float32(z1), _float32(z2)], dim=1)
            )  # one collective
            g1, g2 = both[:, :d], both[:, d:]
            start = rank() * b
            terms = self.terms(g1, g2, slice(start, start + b))
        return {k: v if k == "loss" else v.detach() for k, v in terms.items()}

    def terms(self, z1: Tensor, z2: Tensor, local_rows: slice) -> dict[str, Tensor]:
        """The loss on the global batch ``(M, D)``; ``local_rows`` are this process's rows."""
        raise NotImplementedError


class NTXent(PairLoss):
    """SimCLR's NT-Xent ([`nt_xent`][structured_ssl.ssl.losses.nt_xent]) with negatives from every
    process.

    This process's pairs are the anchors (positive index offset by rank); the returned
    ``"loss"`` is their mean, and the mean over processes is the global-batch loss.
    Also reports ``positive_cosine``, the mean cosine of this process's positive pairs.
    """

    min_batch_reason = "each anchor needs at least one negative"
    head_final_batchnorm = True

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        _check_positive("NTXent", "temperature", temperature)
        self.temperature = float(temperature)

    def terms(self, z1: Tensor, z2: Tensor, local_rows: slice) -> dict[str, Tensor]:
        loss = nt_xent(z1, z2, self.temperature, anchors=local_rows)
        positive = F.cosine_similarity(z1[local_rows], z2[local_rows], dim=1).mean()
        return {"loss": loss, "positive_cosine": positive}

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


class VICReg(PairLoss):
    """VICReg ([`vicreg`][structured_ssl.ssl.losses.vicreg]) on the global batch; logs the three
    unweighted terms."""

    min_batch_reason = "the variance and covariance terms are unbiased batch statistics"

    def __init__(
        self,
        invariance: float = 25.0,
        variance: float = 25.0,
        covariance: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        for name, value in (
            ("invariance", invariance),
            ("variance", variance),
            ("covariance", covariance),
        ):
            _check_nonnegative("VICReg", name, value)
        _check_positive("VICReg", "eps", eps)
        self.invariance, self.variance, self.covariance = (
            float(invariance),
            float(variance),
            float(covariance),
        )
        self.eps = float(eps)

    def terms(self, z1: Tensor, z2: Tensor, local_rows: slice) -> dict[str, Tensor]:
        t = vicreg_terms(z1, z2, self.eps)
        loss = (
            self.invariance * t["invariance"]
            + self.variance * t["variance"]
            + self.covariance * t["covariance"]
        )
        return {"loss": loss, **t}

    def extra_repr(self) -> str:
        return (
            f"invariance={self.invariance}, variance={self.variance}, covariance={self.covariance}"
        )


class BarlowTwins(PairLoss):
    """Barlow Twins ([`barlow_twins`][structured_ssl.ssl.losses.barlow_twins]) on the global batch
    (standardised over all processes)."""

    min_batch_reason = "embeddings are standardised over the batch"

    def __init__(self, offdiag_weight: float = 5e-3, eps: float = 1e-5) -> None:
        super().__init__()
        _check_nonnegative("BarlowTwins", "offdiag_weight", offdiag_weight)
        _check_positive("BarlowTwins", "eps", eps)
        self.offdiag_weight = float(offdiag_weight)
        self.eps = float(eps)

    def terms(self, z1: Tensor, z2: Tensor, local_rows: slice) -> dict[str, Tensor]:
        t = barlow_twins_terms(z1, z2, self.eps)
        return {"loss": t["on_diagonal"] + self.offdiag_weight * t["off_diagonal"], **t}

    def extra_repr(self) -> str:
        return f"offdiag_weight={self.offdiag_weight}"


class BYOL(PairLoss):
    """BYOL's loss ([`byol`][structured_ssl.ssl.losses.byol]); the method supplies predictor AND
    EMA-target outputs.

    ``forward(p1, p2, t1, t2)``: ``p_k = predictor(projector(online(view k)))`` and
    ``t_k = target_projector(target(view k))``, all ``(B, D)``; the targets are detached here.
    Returns ``{"loss", "p1_t2", "p2_t1"}``. No gather: the loss is a mean of per-row terms,
    so DDP's gradient average already gives the global-batch gradient.
    """

    needs_target = True
    min_global_batch = 1

    def forward(
        self, p1: Tensor, p2: Tensor, t1: Tensor | None = None, t2: Tensor | None = None
    ) -> dict[str, Tensor]:
        if t1 is None or t2 is None:
            raise ValueError(
                "BYOL needs the EMA target's outputs: call loss(p1, p2, t1, t2) with the online "
                "predictions p1, p2 and the target projections t1, t2 (BYOL.needs_target is True)"
            )
        _check_pair(p1, p2, "BYOL", ("p1", "p2"))
        _check_pair(t1, t2, "BYOL", ("t1", "t2"))
        _check_pair(p1, t1, "BYOL", ("p1", "t1"))
        with _no_autocast(p1.device):
            p1, p2, t1, t2 = (_float32(x) for x in (p1, p2, t1, t2))
            first, second = _regression(p1, t2), _regression(p2, t1)
        return {"loss": first + second, "p1_t2": first.detach(), "p2_t1": second.detach()}


def nonfinite_terms(terms: Mapping[str, Tensor]) -> list[str]:
    """Names of the terms that are NaN or infinite (one device sync for all of them)."""
    names = list(terms)
    if not names:
        return []
    bad = torch.stack([~torch.isfinite(terms[n].detach()).all() for n in names]).tolist()
    return [n for n, b in zip(names, bad, strict=True) if b]
