"""Pair losses against independent loop formulas, closed forms, and a 2-process gloo run.

The reference formulas below are written with Python loops over pairs and dimensions on
float64 numbers, deliberately unlike the vectorised implementations they check.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structured_ssl.ssl.ema import ema_update_, momentum_at
from structured_ssl.ssl.gather import gather_with_grad, rank, world_size
from structured_ssl.ssl.losses import (
    BYOL,
    BarlowTwins,
    NTXent,
    PairLoss,
    VICReg,
    barlow_twins,
    barlow_twins_terms,
    byol,
    nonfinite_terms,
    nt_xent,
    vicreg,
    vicreg_terms,
)

FEW = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- loop references
def _rows(z: torch.Tensor) -> list[list[float]]:
    return z.detach().double().tolist()


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def ref_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """Anchor k in 0..2N-1; its positive is (k + N) mod 2N; every other k' != k is in the sum."""
    views = _rows(z1) + _rows(z2)
    m = len(views)
    n = m // 2

    def cos(a: list[float], b: list[float]) -> float:
        return _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))

    total = 0.0
    for k in range(m):
        positive = (k + n) % m
        denominator = sum(math.exp(cos(views[k], views[j]) / t) for j in range(m) if j != k)
        total += -cos(views[k], views[positive]) / t + math.log(denominator)
    return total / m


def ref_vicreg_terms(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-4) -> dict[str, float]:
    a, b = _rows(z1), _rows(z2)
    n, d = len(a), len(a[0])
    invariance = sum((a[i][j] - b[i][j]) ** 2 for i in range(n) for j in range(d)) / (n * d)
    variance = covariance = 0.0
    for z in (a, b):
        mean = [sum(z[i][j] for i in range(n)) / n for j in range(d)]
        for j in range(d):
            std = math.sqrt(sum((z[i][j] - mean[j]) ** 2 for i in range(n)) / (n - 1) + eps)
            variance += max(0.0, 1.0 - std) / d / 2
        for j in range(d):
            for k in range(d):
                if j != k:
                    c = sum((z[i][j] - mean[j]) * (z[i][k] - mean[k]) for i in range(n)) / (n - 1)
                    covariance += c * c / d
    return {"invariance": invariance, "variance": variance, "covariance": covariance}


def ref_barlow(z1: torch.Tensor, z2: torch.Tensor, lam: float = 5e-3, eps: float = 1e-5) -> float:
    a, b = _rows(z1), _rows(z2)
    n, d = len(a), len(a[0])

    def standardised(z: list[list[float]]) -> list[list[float]]:
        out = [[0.0] * d for _ in range(n)]
        for j in range(d):
            mean = sum(z[i][j] for i in range(n)) / n
            std = math.sqrt(sum((z[i][j] - mean) ** 2 for i in range(n)) / n + eps)
            for i in range(n):
                out[i][j] = (z[i][j] - mean) / std
        return out

    sa, sb = standardised(a), standardised(b)
    loss = 0.0
    for j in range(d):
        for k in range(d):
            c = sum(sa[i][j] * sb[i][k] for i in range(n)) / n
            loss += (1 - c) ** 2 if j == k else lam * c * c
    return loss


def ref_byol(p1: torch.Tensor, p2: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor) -> float:
    total = 0.0
    for p, t in ((p1, t2), (p2, t1)):
        for a, b in zip(_rows(p), _rows(t), strict=True):
            total += (2 - 2 * _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))) / p.shape[0]
    return total


def pair(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


# --------------------------------------------------------------------------- agreement with references
@FEW
@given(
    n=st.integers(2, 6),
    d=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    t=st.sampled_from([0.1, 0.5, 1.0]),
)
def test_nt_xent_matches_loop_reference(n: int, d: int, seed: int, t: float) -> None:
    z1, z2 = pair(n, d, seed)
    assert nt_xent(z1, z2, t).item() == pytest.approx(ref_nt_xent(z1, z2, t), rel=1e-5, abs=1e-5)
    assert NTXent(t)(z1, z2)["loss"].item() == pytest.approx(
        ref_nt_xent(z1, z2, t), rel=1e-5, abs=1e-5
    )


@FEW
@given(
    n=st.integers(2, 6),
    d=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_vicreg_matches_loop_reference(n: int, d: int, seed: int, scale: float) -> None:
    z1, z2 = pair(n, d, seed)
    z1, z2 = z1 * scale, z2 * scale
    expected = ref_vicreg_terms(z1, z2)
    got = vicreg_terms(z1, z2)
    for name, value in expected.items():
        assert got[name].item() == pytest.approx(value, rel=1e-5, abs=1e-6), name
    total = 25 * expected["invariance"] + 25 * expected["variance"] + expected["covariance"]
    assert vicreg(z1, z2).item() == pytest.approx(total, rel=1e-5, abs=1e-5)
    out = VICReg()(z1, z2)
    assert out["loss"].item() == pytest.approx(total, rel=1e-5, abs=1e-5)
    assert {"loss", "invariance", "variance", "covariance"} <= out.keys()


@FEW
@given(
    n=st.integers(2, 6),
    d=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    lam=st.sampled_from([5e-3, 0.1, 1.0]),
)
def test_barlow_twins_matches_loop_reference(n: int, d: int, seed: int, lam: float) -> None:
    z1, z2 = pair(n, d, seed)
    expected = ref_barlow(z1, z2, lam)
    assert barlow_twins(z1, z2, lam).item() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert BarlowTwins(lam)(z1, z2)["loss"].item() == pytest.approx(expected, rel=1e-5, abs=1e-5)


@FEW
@given(n=st.integers(1, 6), d=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_byol_matches_loop_reference(n: int, d: int, seed: int) -> None:
    p1, p2 = pair(n, d, seed)
    t1, t2 = pair(n, d, seed + 1)
    expected = ref_byol(p1, p2, t1, t2)
    assert byol(p1, p2, t1, t2).item() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert BYOL()(p1, p2, t1, t2)["loss"].item() == pytest.approx(expected, rel=1e-5, abs=1e-5)


TARGETS = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: nt_xent(a, b, 0.5),
        lambda a, b: vicreg(a, b),
        lambda a, b: barlow_twins(a, b, 0.1),
        lambda a, b: byol(a, b, TARGETS[0], TARGETS[1]),  # targets are constants (stop-gradient)
    ],
    ids=["nt_xent", "vicreg", "barlow", "byol"],
)
def test_gradients_agree_with_finite_differences(fn) -> None:
    z1, z2 = (z.double().requires_grad_() for z in pair(4, 3, 1))
    assert torch.autograd.gradcheck(fn, (z1, z2), eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------- closed forms
def test_nt_xent_identical_orthonormal_views() -> None:
    # z1 = z2 = the first N standard basis vectors of R^D (D >= N). Anchor k: cos = 1 with its
    # positive and 0 with the 2N - 2 other embeddings, so each anchor's loss is
    # -1/t + log(e^{1/t} + (2N - 2) e^0) = log(1 + (2N - 2) e^{-1/t}).
    n = 4
    z = torch.eye(6, dtype=torch.float64)[:n]
    for t in (0.1, 1.0):
        assert nt_xent(z, z.clone(), t).item() == pytest.approx(
            math.log(1 + (2 * n - 2) * math.exp(-1 / t)), rel=1e-9
        )


def test_nt_xent_all_orthogonal_views() -> None:
    # All 2N embeddings mutually orthogonal: every cosine is 0, the softmax is uniform over the
    # 2N - 1 candidates, so the loss is log(2N - 1) whatever the temperature.
    n = 3
    basis = torch.eye(2 * n) * 5.0
    for t in (0.1, 1.0):
        assert nt_xent(basis[:n], basis[n:], t).item() == pytest.approx(
            math.log(2 * n - 1), rel=1e-6
        )


def test_nt_xent_anchor_slices_average_to_full_loss() -> None:
    # What NTXent does under DDP: each process scores its own rows against everyone's.
    z1, z2 = pair(8, 5, 3)
    parts = [nt_xent(z1, z2, 0.2, anchors=slice(i, i + 2)) for i in range(0, 8, 2)]
    assert torch.stack(parts).mean().item() == pytest.approx(nt_xent(z1, z2, 0.2).item(), rel=1e-6)


SIGNS = torch.tensor(
    [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
)  # centred, uncorrelated columns


def test_vicreg_identical_decorrelated_views_cost_nothing() -> None:
    # Columns of SIGNS: mean 0, unbiased variance 4/3 (std > 1, hinge 0), covariance 0.
    terms = vicreg_terms(SIGNS, SIGNS.clone())
    assert terms["invariance"].item() == 0.0
    assert terms["variance"].item() == 0.0
    assert terms["covariance"].item() == 0.0


def test_vicreg_terms_known_values() -> None:
    z1, z2 = pair(5, 3, 4)
    assert vicreg_terms(z1, z1.clone())["invariance"].item() == 0.0
    # constant embeddings: std = sqrt(eps) in every dim of both views -> variance = 1 - sqrt(eps)
    const = torch.ones(5, 3)
    assert vicreg_terms(const, const)["variance"].item() == pytest.approx(
        1 - math.sqrt(1e-4), rel=1e-6
    )
    # shifting a view changes only the invariance term: d^2 for a shift of d in every entry
    shifted = vicreg_terms(z1, z1 + 0.5)
    assert shifted["invariance"].item() == pytest.approx(0.25, rel=1e-6)
    assert shifted["variance"].item() == pytest.approx(
        vicreg_terms(z1, z1)["variance"].item(), rel=1e-6
    )


def test_barlow_twins_known_values() -> None:
    # Identical, standardised, decorrelated views: C = I up to eps -> loss ~ 0.
    assert barlow_twins(SIGNS, SIGNS.clone()).item() == pytest.approx(0.0, abs=1e-8)
    # Opposite views: C = -I -> each diagonal entry costs (1 - (-1))^2 = 4.
    assert barlow_twins(SIGNS, -SIGNS).item() == pytest.approx(4.0 * 2, rel=1e-4)
    # A view and a copy with its two columns swapped: diagonal 0 (cost 1 each), off-diagonal 1.
    terms = barlow_twins_terms(SIGNS, SIGNS.flip(1))
    assert terms["on_diagonal"].item() == pytest.approx(2.0, rel=1e-4)
    assert terms["off_diagonal"].item() == pytest.approx(2.0, rel=1e-4)


def test_byol_known_values() -> None:
    p, t = pair(5, 4, 2)
    assert byol(p, p, p, p).item() == pytest.approx(0.0, abs=1e-6)
    assert byol(p, p, -p, -p).item() == pytest.approx(8.0, rel=1e-6)
    assert byol(p, p, 3 * p, 0.5 * p).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert byol(p, t, t, p).item() == pytest.approx(0.0, abs=1e-6)


def test_byol_pairs_prediction_of_one_view_with_target_of_the_other() -> None:
    e = torch.eye(2)
    # p1 = e0, p2 = e1, t1 = e1, t2 = e0: p1.t2 = 1 and p2.t1 = 1 -> loss 0
    assert byol(e[:1], e[1:], e[1:], e[:1]).item() == pytest.approx(0.0, abs=1e-7)
    # p1 = e0, p2 = e1, t1 = e0, t2 = e1: both cosines 0 -> loss 2 + 2
    assert byol(e[:1], e[1:], e[:1], e[1:]).item() == pytest.approx(4.0)


def test_byol_stops_gradient_at_targets() -> None:
    p1, p2 = (z.requires_grad_() for z in pair(4, 3))
    t1, t2 = (z.requires_grad_() for z in pair(4, 3, 5))
    BYOL()(p1, p2, t1, t2)["loss"].backward()
    assert p1.grad is not None and p2.grad is not None
    assert t1.grad is None and t2.grad is None


# --------------------------------------------------------------------------- general properties
MODULES = [NTXent(0.2), VICReg(), BarlowTwins()]


@pytest.mark.parametrize("loss", MODULES, ids=lambda m: type(m).__name__)
def test_gradients_finite_even_for_degenerate_batches(loss: PairLoss) -> None:
    z1, z2 = pair(6, 4)
    for a, b in [
        (z1, z2),
        (torch.ones(6, 4), torch.ones(6, 4)),
        (torch.zeros(6, 4), z2),
        (z1 * 1e3, z2 * 1e-3),
    ]:
        a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
        out = loss(a, b)
        out["loss"].backward()
        assert torch.isfinite(out["loss"])
        assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
        assert not nonfinite_terms(out)


@pytest.mark.parametrize("loss", [*MODULES, BYOL()], ids=lambda m: type(m).__name__)
def test_invariant_to_batch_order(loss: PairLoss) -> None:
    z1, z2 = pair(7, 5, 9)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    args = (z1, z2, z2.roll(1, 1), z1.roll(1, 1)) if loss.needs_target else (z1, z2)
    permuted = tuple(a[perm] for a in args)
    assert loss(*permuted)["loss"].item() == pytest.approx(loss(*args)["loss"].item(), rel=1e-5)


def test_only_byol_needs_a_target() -> None:
    assert [m.needs_target for m in (NTXent(), VICReg(), BarlowTwins(), BYOL())] == [
        False,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("loss", [*MODULES, BYOL()], ids=lambda m: type(m).__name__)
def test_half_precision_inputs_computed_in_float32(loss: PairLoss) -> None:
    z1, z2 = pair(8, 4, 6)
    args = (z1, z2, z2, z1) if loss.needs_target else (z1, z2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(*(a.bfloat16() for a in args))
    assert out["loss"].dtype == torch.float32
    exact = loss(*(a.bfloat16().float() for a in args))["loss"]
    assert out["loss"].item() == pytest.approx(exact.item(), rel=1e-5)


def test_extra_terms_are_detached_and_loss_is_not() -> None:
    z1, z2 = (z.requires_grad_() for z in pair(5, 3))
    out = VICReg()(z1, z2)
    assert out["loss"].requires_grad
    assert not any(v.requires_grad for k, v in out.items() if k != "loss")


def test_nonfinite_terms_names_the_culprit() -> None:
    terms = {
        "loss": torch.tensor(float("nan")),
        "invariance": torch.tensor(1.0),
        "covariance": torch.tensor(float("inf")),
    }
    assert nonfinite_terms(terms) == ["loss", "covariance"]
    assert nonfinite_terms({}) == []


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("loss", MODULES, ids=lambda m: type(m).__name__)
def test_batch_of_one_is_refused_with_sizes(loss: PairLoss) -> None:
    z1, z2 = pair(1, 4)
    with pytest.raises(
        ValueError,
        match=rf"{type(loss).__name__} needs a global batch of at least 2"
        r".*per-process batch 1 x 1 process\(es\) = global batch 1",
    ):
        loss(z1, z2)


@pytest.mark.parametrize("loss", [*MODULES, BYOL()], ids=lambda m: type(m).__name__)
def test_shape_errors_name_the_shapes(loss: PairLoss) -> None:
    z1, z2 = pair(4, 3)
    extra = (z1, z2) if loss.needs_target else ()
    with pytest.raises(ValueError, match=r"must be 2-D.*\(4, 3, 1\)"):
        loss(z1[..., None], z2[..., None], *(e[..., None] for e in extra))
    with pytest.raises(ValueError, match=r"must be 2-D.*\(12,\)"):
        loss(z1.flatten(), z2.flatten(), *(e.flatten() for e in extra))
    with pytest.raises(ValueError, match=r"same shape.*\(4, 3\) and \(4, 2\)"):
        loss(z1, z2[:, :2], *extra)
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        loss(z1.long(), z2.long(), *(e.long() for e in extra))


def test_pure_functions_validate_too() -> None:
    z1, z2 = pair(1, 3)
    for fn in (nt_xent, vicreg, barlow_twins):
        with pytest.raises(ValueError, match="global batch 1"):
            fn(z1, z2)
    with pytest.raises(ValueError, match="temperature must be .*> 0, got 0"):
        nt_xent(*pair(3, 2), temperature=0)
    with pytest.raises(ValueError, match="anchors"):
        nt_xent(*pair(3, 2), anchors=slice(2, 2))


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="temperature.*-1"):
        NTXent(temperature=-1)
    with pytest.raises(ValueError, match="variance.*-2"):
        VICReg(variance=-2)
    with pytest.raises(ValueError, match="offdiag_weight.*nan"):
        BarlowTwins(offdiag_weight=float("nan"))
    with pytest.raises(ValueError, match="EMA target"):
        BYOL()(*pair(3, 2))


# --------------------------------------------------------------------------- BYOL's EMA target
def test_momentum_schedule_is_cosine_from_base_to_final() -> None:
    assert momentum_at(0, 100) == pytest.approx(0.996)
    assert momentum_at(50, 100) == pytest.approx(0.998)
    assert momentum_at(100, 100) == pytest.approx(1.0)
    assert momentum_at(250, 100) == pytest.approx(1.0)
    assert momentum_at(25, 100, base=0.9) == pytest.approx(
        1 - 0.1 * (math.cos(math.pi / 4) + 1) / 2
    )
    values = [momentum_at(k, 40, base=0.99) for k in range(41)]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert momentum_at(10, float("inf"), base=0.99) == 0.99
    with pytest.raises(ValueError, match="base=1.2"):
        momentum_at(0, 10, base=1.2)


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_ema_update_averages_parameters_and_buffers() -> None:
    online, target = _net(), _net()
    online(torch.randn(8, 3))  # move the online batch-norm statistics
    before = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update_(target, online, 0.75)
    after, source = target.state_dict(), online.state_dict()
    for name, value in after.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.75 * before[name] + 0.25 * source[name])
        else:
            assert torch.equal(value, source[name]), name  # num_batches_tracked is copied
    assert not any(p.grad_fn is not None for p in target.parameters())


def test_ema_update_extremes_and_buffer_modes() -> None:
    online, target = _net(), _net()
    online(torch.randn(8, 3))
    frozen = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update_(target, online, 1.0, buffers="keep")
    for name, value in target.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, frozen[name])
    ema_update_(target, online, 0.0, buffers="copy")
    for name, value in target.state_dict().items():
        torch.testing.assert_close(value, online.state_dict()[name])


def test_ema_update_refuses_different_architectures() -> None:
    with pytest.raises(ValueError, match="parameter names differ"):
        ema_update_(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), 0.9)
    with pytest.raises(ValueError, match=r"'weight' has shape \(3, 2\)"):
        ema_update_(nn.Linear(2, 3), nn.Linear(2, 2), 0.9)
    with pytest.raises(ValueError, match="momentum"):
        ema_update_(nn.Linear(2, 2), nn.Linear(2, 2), 1.5)


class CachingLayer(nn.Module):
    """Like an escnn R2Conv: eval mode caches a tensor derived from the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3))
        self.cached: torch.Tensor | None = None

    def train(self, mode: bool = True) -> CachingLayer:
        if mode:
            self.cached = None
        elif self.training:
            self.cached = self.weight.detach() * 2
        return super().train(mode)


def test_ema_update_rebuilds_eval_mode_caches() -> None:
    online, target = CachingLayer(), CachingLayer()
    target.eval()
    ema_update_(target, online, 0.5)
    torch.testing.assert_close(target.cached, target.weight.detach() * 2)
    assert not target.training


# --------------------------------------------------------------------------- two gloo processes
BATCH, IN, OUT = 8, 5, 4


def _losses() -> dict[str, PairLoss]:
    return {"ntxent": NTXent(0.3), "vicreg": VICReg(), "barlow": BarlowTwins(0.05), "byol": BYOL()}


def _run_losses(
    x1: torch.Tensor, x2: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor
) -> dict:
    """Loss and layer gradient for each loss module, on whatever batch this process holds."""
    results = {}
    for name, loss in _losses().items():
        layer = nn.Linear(IN, OUT, bias=False)
        with torch.no_grad():
            layer.weight.copy_(weight)
        z1, z2 = layer(x1), layer(x2)
        out = loss(z1, z2, targets[0], targets[1]) if loss.needs_target else loss(z1, z2)
        out["loss"].backward()
        results[name] = {
            "terms": {k: v.detach() for k, v in out.items()},
            "grad": layer.weight.grad.clone(),
        }
    return results


def _worker(rank_: int, world: int, port: int, data: dict, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank_, world_size=world
    )
    try:
        b = BATCH // world
        rows = slice(rank_ * b, (rank_ + 1) * b)
        x1, x2, targets = data["x1"][rows], data["x2"][rows], data["targets"][:, rows]
        results = _run_losses(x1, x2, targets, data["weight"])
        for entry in results.values():  # what DDP does: average gradients (and we average losses)
            for key in ("grad",):
                dist.all_reduce(entry[key])
                entry[key] /= world
            entry["mean_loss"] = entry["terms"]["loss"].clone()
            dist.all_reduce(entry["mean_loss"])
            entry["mean_loss"] /= world
        # Real DDP, one forward on the concatenated views (as a method does).
        for name, loss in _losses().items():
            if loss.needs_target:
                continue
            layer = nn.Linear(IN, OUT, bias=False)
            with torch.no_grad():
                layer.weight.copy_(data["weight"])
            model = nn.parallel.DistributedDataParallel(layer)
            z = model(torch.cat([x1, x2]))
            loss(z[:b], z[b:])["loss"].backward()
            results[name]["ddp_grad"] = layer.weight.grad.clone()
        # gather order and backward
        x = torch.full((2, 3), float(rank_), requires_grad=True)
        gathered = gather_with_grad(x)
        (gathered * torch.arange(1.0, 5.0)[:, None]).sum().backward()
        results["gather"] = {
            "value": gathered.detach(),
            "grad": x.grad,
            "rank": rank(),
            "world": world_size(),
        }
        try:
            gather_with_grad(torch.zeros(rank_ + 1, 2))
        except ValueError as error:
            results["unequal"] = str(error)
        try:
            NTXent()(torch.randn(1, 3), torch.randn(1, 3)) if world < 2 else VICReg()(
                torch.randn(0, 3), torch.randn(0, 3)
            )
        except ValueError as error:
            results["tiny"] = str(error)
        torch.save(results, Path(out_dir) / f"rank{rank_}.pt")
        dist.barrier()  # leave together: a rank exiting while gloo threads run aborts the other
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict]]:
    g = torch.Generator().manual_seed(11)
    data = {
        "x1": torch.randn(BATCH, IN, generator=g),
        "x2": torch.randn(BATCH, IN, generator=g),
        "targets": torch.randn(2, BATCH, OUT, generator=g),
        "weight": torch.randn(OUT, IN, generator=g),
    }
    single = _run_losses(data["x1"], data["x2"], data["targets"], data["weight"])
    out_dir = tmp_path_factory.mktemp("gloo")
    mp.start_processes(
        _worker,
        args=(2, _free_port(), data, str(out_dir)),
        nprocs=2,
        join=True,
        start_method="spawn",
    )
    return single, [torch.load(out_dir / f"rank{r}.pt") for r in range(2)]


@pytest.mark.parametrize("name", ["ntxent", "vicreg", "barlow", "byol"])
def test_two_processes_match_one_process_with_the_global_batch(
    two_process_results, name: str
) -> None:
    single, ranks = two_process_results
    expected = single[name]
    for result in ranks:
        entry = result[name]
        torch.testing.assert_close(
            entry["mean_loss"], expected["terms"]["loss"], atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(entry["grad"], expected["grad"], atol=1e-5, rtol=1e-5)
        if "ddp_grad" in entry:
            torch.testing.assert_close(entry["ddp_grad"], expected["grad"], atol=1e-5, rtol=1e-5)
        if name in ("vicreg", "barlow"):  # computed on the global batch: every term on every rank
            for key, value in expected["terms"].items():
                torch.testing.assert_close(entry["terms"][key], value, atol=1e-5, rtol=1e-5)


def test_gather_with_grad_concatenates_in_rank_order_and_sums_gradients(
    two_process_results,
) -> None:
    _, ranks = two_process_results
    for r, result in enumerate(ranks):
        g = result["gather"]
        assert (g["rank"], g["world"]) == (r, 2)
        torch.testing.assert_close(g["value"], torch.tensor([0.0, 0, 1, 1])[:, None].expand(4, 3))
        # each rank's loss weighs row i by i + 1; the gradient of rank r's rows sums over both losses
        torch.testing.assert_close(
            g["grad"], 2 * torch.tensor([2 * r + 1.0, 2 * r + 2.0])[:, None].expand(2, 3)
        )


def test_unequal_batches_across_processes_raise_clearly(two_process_results) -> None:
    _, ranks = two_process_results
    for result in ranks:
        assert "same shape" in result["unequal"] and "[(1, 2), (2, 2)]" in result["unequal"]
        assert "VICReg needs a global batch of at least 2" in result["tiny"]
        assert "per-process batch 0 x 2 process(es) = global batch 0" in result["tiny"]


def test_gather_is_identity_without_a_process_group() -> None:
    x = torch.randn(3, 2)
    assert gather_with_grad(x) is x
    assert (rank(), world_size()) == (0, 1)
