"""LARS, the optimizer switch, learning-rate scaling and the warm-up + cosine schedule."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structured_ssl.methods.optim import (
    LARS,
    WarmupCosine,
    build_optimizer,
    scaled_lr,
    warmup_cosine_lambda,
)


# --------------------------------------------------------------------------- LARS
def _param(values: list[float], grad: list[float]) -> nn.Parameter:
    p = nn.Parameter(torch.tensor(values))
    p.grad = torch.tensor(grad)
    return p


def test_lars_trust_ratio_hand_checked() -> None:
    # w = (3, 4) -> ||w|| = 5; g = (0, 2) -> ||g|| = 2; wd = 0.1, eta = 0.01:
    # trust = 0.01 * 5 / (2 + 0.1 * 5) = 0.05 / 2.5 = 0.02
    # step  = lr * trust * (g + wd * w) = 1.0 * 0.02 * (0.3, 2.4) = (0.006, 0.048)
    w = _param([[3.0, 4.0]], [[0.0, 2.0]])
    assert LARS.trust_ratio(w, w.grad, eta=0.01, weight_decay=0.1).item() == pytest.approx(0.02)
    opt = LARS([w], lr=1.0, momentum=0.9, weight_decay=0.1, eta=0.01)
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([[3.0 - 0.006, 4.0 - 0.048]]))
    # second step, same gradient: w = (2.994, 3.952), ||w|| = 4.95804..., new v = 0.9 v + step
    w.grad = torch.tensor([[0.0, 2.0]])
    norm = math.hypot(2.994, 3.952)
    trust = 0.01 * norm / (2 + 0.1 * norm)
    v = [0.9 * 0.006 + trust * 0.1 * 2.994, 0.9 * 0.048 + trust * (2 + 0.1 * 3.952)]
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([[2.994 - v[0], 3.952 - v[1]]]))


def test_lars_trust_ratio_is_one_for_zero_norms() -> None:
    zero = torch.zeros(2, 2)
    ones = torch.ones(2, 2)
    assert LARS.trust_ratio(zero, ones, 1e-3, 0.0).item() == 1.0
    assert LARS.trust_ratio(ones, zero, 1e-3, 0.0).item() == 1.0


def test_lars_excluded_parameters_get_plain_sgd() -> None:
    torch.manual_seed(0)
    bias, weight, probe = (
        nn.Parameter(torch.randn(4)),
        nn.Parameter(torch.randn(3, 4)),
        nn.Parameter(torch.randn(2, 3)),
    )
    copies = [nn.Parameter(p.detach().clone()) for p in (bias, weight, probe)]
    lars = LARS(
        [
            {"params": [bias, weight]},
            {"params": [probe], "lars_exclude": True, "weight_decay": 0.0},
        ],
        lr=0.1,
        momentum=0.9,
        weight_decay=0.5,
        eta=1e-3,
    )
    sgd_bias = torch.optim.SGD([copies[0]], lr=0.1, momentum=0.9)  # 1-D: no decay, no trust ratio
    sgd_probe = torch.optim.SGD([copies[2]], lr=0.1, momentum=0.9)
    for _ in range(3):
        for p in (bias, weight, probe, *copies):
            p.grad = torch.ones_like(p)
        w_before = weight.detach().clone()
        lars.step()
        sgd_bias.step()
        sgd_probe.step()
        assert not torch.allclose(weight, w_before - 0.1)  # the matrix IS adapted
    torch.testing.assert_close(bias, copies[0])
    torch.testing.assert_close(probe, copies[2])


def test_lars_exclude_1d_can_be_turned_off() -> None:
    b = _param([3.0, 4.0], [0.0, 2.0])
    LARS([b], lr=1.0, momentum=0.0, weight_decay=0.0, eta=0.01, exclude_1d=False).step()
    # trust = 0.01 * 5 / 2 = 0.025 -> step 0.025 * g
    torch.testing.assert_close(b.detach(), torch.tensor([3.0, 4.0 - 0.05]))


def test_lars_skips_parameters_without_gradients_and_supports_closures() -> None:
    used, unused = nn.Parameter(torch.ones(2, 2)), nn.Parameter(torch.ones(2, 2))
    opt = LARS([used, unused], lr=1.0)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (used**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert torch.equal(unused, torch.ones(2, 2))
    assert not torch.equal(used.detach(), torch.ones(2, 2))


def test_lars_reduces_a_quadratic() -> None:
    torch.manual_seed(0)
    model = nn.Linear(6, 1)
    x = torch.randn(64, 6)
    y = x @ torch.randn(6, 1) + 0.5
    opt = LARS(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.0, eta=0.1)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


# --------------------------------------------------------------------------- build_optimizer
def test_build_optimizer_kinds_and_settings() -> None:
    params = list(nn.Linear(3, 2).parameters())
    sgd = build_optimizer(params, "sgd", lr=0.1, weight_decay=1e-4, momentum=0.8)
    assert isinstance(sgd, torch.optim.SGD)
    assert (sgd.defaults["lr"], sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (
        0.1,
        0.8,
        1e-4,
    )
    adamw = build_optimizer(params, "AdamW", lr=1e-3, weight_decay=0.05)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["weight_decay"] == 0.05
    lars = build_optimizer(params, "lars", lr=0.3, weight_decay=1e-6)
    assert isinstance(lars, LARS) and lars.defaults["weight_decay"] == 1e-6


def test_build_optimizer_keeps_group_overrides_and_drops_lars_keys_elsewhere() -> None:
    main, probe = nn.Linear(3, 2), nn.Linear(2, 2)
    groups = [
        {"params": list(main.parameters())},
        {"params": list(probe.parameters()), "lr": 0.5, "weight_decay": 0.0, "lars_exclude": True},
    ]
    for name in ("sgd", "adamw"):
        opt = build_optimizer(groups, name, lr=0.01, weight_decay=0.1)
        assert [g["lr"] for g in opt.param_groups] == [0.01, 0.5]
        assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
        assert all("lars_exclude" not in g for g in opt.param_groups)
    lars = build_optimizer(groups, "lars", lr=0.01, weight_decay=0.1)
    assert [g["lars_exclude"] for g in lars.param_groups] == [False, True]
    assert "lars_exclude" in groups[1]  # the caller's dicts are not modified


def test_build_optimizer_errors_name_the_value() -> None:
    params = list(nn.Linear(3, 2).parameters())
    with pytest.raises(
        ValueError, match="unknown optimizer 'adam'; choose one of sgd, adamw, lars"
    ):
        build_optimizer(params, "adam", lr=0.1)
    with pytest.raises(ValueError, match="learning rate .* got -0.1"):
        build_optimizer(params, "sgd", lr=-0.1)
    with pytest.raises(ValueError, match="weight_decay .* got -1"):
        build_optimizer(params, "sgd", lr=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="momentum .* got 1.0"):
        build_optimizer(params, "lars", lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="no parameters"):
        build_optimizer([], "sgd", lr=0.1)


# --------------------------------------------------------------------------- scaled_lr
def test_scaled_lr_rules() -> None:
    assert scaled_lr(0.3, 512) == pytest.approx(0.6)
    assert scaled_lr(0.3, 512, rule="linear") == pytest.approx(0.6)
    assert scaled_lr(0.075, 4096, rule="sqrt") == pytest.approx(0.075 * 4)
    assert scaled_lr(0.1, 64, reference=32, rule="linear") == pytest.approx(0.2)
    assert scaled_lr(0.1, 4096, rule=None) == 0.1
    with pytest.raises(ValueError, match="unknown rule 'cubic'"):
        scaled_lr(0.1, 256, rule="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="global_batch_size .* got 0"):
        scaled_lr(0.1, 0)


# --------------------------------------------------------------------------- warm-up + cosine
def test_warmup_then_cosine_shape() -> None:
    f = warmup_cosine_lambda(warmup_steps=10, total_steps=110, final_ratio=0.1)
    assert f(0) == pytest.approx(0.1)  # small, not zero: the first step already learns
    assert [f(s) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert f(9) == pytest.approx(1.0)  # peak at the end of warm-up
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert f(110) == pytest.approx(0.1)
    assert f(500) == pytest.approx(0.1)
    values = [f(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


@settings(max_examples=40, deadline=None)
@given(warmup=st.integers(0, 50), extra=st.integers(1, 200), final=st.floats(0.0, 1.0))
def test_schedule_bounds(warmup: int, extra: int, final: float) -> None:
    total = warmup + extra
    f = warmup_cosine_lambda(warmup, total, final)
    values = [f(s) for s in range(total + 5)]
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in values)
    assert all(v > 0.0 for v in values[:total])  # every step actually taken learns
    assert max(values) == pytest.approx(1.0)
    assert f(total) == pytest.approx(final)
    if warmup:
        assert values[:warmup] == sorted(values[:warmup])


def test_schedule_drives_lambdalr_per_step_and_survives_a_checkpoint() -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine_lambda(4, 20))
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    # Lightning's order on resume: configure_optimizers builds both, then the states are loaded.
    opt2 = torch.optim.SGD([p], lr=0.4)
    resumed = torch.optim.lr_scheduler.LambdaLR(opt2, warmup_cosine_lambda(4, 20))
    opt2.load_state_dict(opt.state_dict())
    resumed.load_state_dict(state)
    for _ in range(3):
        assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
        opt.step(), opt2.step()
        sched.step(), resumed.step()


def test_schedule_edge_cases_and_errors() -> None:
    assert warmup_cosine_lambda(0, 10)(0) == 1.0  # no warm-up: start at the peak
    short = warmup_cosine_lambda(10, 3)  # warm-up longer than the run: pure warm-up
    assert [short(s) for s in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert isinstance(short, WarmupCosine) and pickle.loads(pickle.dumps(short)) == short
    with pytest.raises(ValueError, match="warmup_steps >= 0 .* got -1"):
        warmup_cosine_lambda(-1, 10)
    with pytest.raises(ValueError, match="final_ratio .* got 2"):
        warmup_cosine_lambda(1, 10, final_ratio=2)


# --------------------------------------------------------------------------- multi-tensor steps
def _lars_run(foreach: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    probe = nn.Linear(3, 2)
    with torch.no_grad():
        model[2].weight[0].zero_()
        probe.bias.zero_()
    groups = [
        {"params": list(model.parameters())},
        {"params": list(probe.parameters()), "lr": 0.05, "weight_decay": 0.0, "lars_exclude": True},
    ]
    opt = build_optimizer(
        groups, "lars", lr=0.3, weight_decay=1e-3, implementation="foreach" if foreach else "loop"
    )
    x = torch.randn(16, 5)
    for _ in range(4):
        opt.zero_grad()
        (probe(model(x)).square().mean()).backward()
        opt.step()
    return [p.detach().clone() for p in [*model.parameters(), *probe.parameters()]]


def test_lars_foreach_computes_what_the_loop_computes() -> None:
    loop, foreach = _lars_run(False), _lars_run(True)
    assert all(
        torch.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(loop, foreach, strict=True)
    )
    assert not torch.equal(loop[0], _lars_run_start())


def _lars_run_start() -> torch.Tensor:
    torch.manual_seed(0)
    return nn.Linear(5, 4).weight.detach().clone()


def test_lars_auto_is_the_loop_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(LARS, "_update_foreach", lambda self, *a, **k: calls.append(1))
    w = nn.Parameter(torch.ones(3))
    w.grad = torch.ones(3)
    LARS([w], lr=0.1, exclude_1d=False).step()
    assert calls == [] and not torch.equal(w.detach(), torch.ones(3))


def test_sgd_and_adamw_implementations_reach_torch() -> None:
    params = [nn.Parameter(torch.ones(2))]
    assert (
        build_optimizer(params, "sgd", lr=0.1, implementation="foreach").defaults["foreach"] is True
    )
    assert (
        build_optimizer(params, "adamw", lr=0.1, implementation="fused").defaults["fused"] is True
    )
    assert (
        build_optimizer(params, "sgd", lr=0.1).defaults["foreach"] is None
    )  # torch decides: foreach on CUDA
    with pytest.raises(
        ValueError,
        match="optimizer.implementation='fused' for lars: expected one of auto, loop, foreach",
    ):
        build_optimizer(params, "lars", lr=0.1, implementation="fused")
