"""Optimizers and learning-rate schedules for SSL pre-training.

* [`LARS`][structured_ssl.methods.optim.LARS]: layer-wise adaptive rate scaling (You, Gitman,
  Ginsburg 2017), the optimizer SimCLR and BYOL train with at large batch sizes.
* [`build_optimizer`][structured_ssl.methods.optim.build_optimizer]: one switch between SGD, AdamW
  and LARS for the CLI.
* [`scaled_lr`][structured_ssl.methods.optim.scaled_lr]: the learning rate scaled with the GLOBAL
  batch size (all processes and accumulated batches), as SimCLR/BYOL prescribe.
* [`warmup_cosine_lambda`][structured_ssl.methods.optim.warmup_cosine_lambda]: linear warm-up then
  cosine decay, a factor for ``torch.optim.lr_scheduler.LambdaLR`` stepped once per OPTIMIZER step
  (Lightning: ``"interval": "step"``); stepping it per epoch is a bug others shipped
  (solo-learn#264).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.optim import Optimizer

__all__ = [
    "LARS",
    "WarmupCosine",
    "build_optimizer",
    "scaled_lr",
    "warmup_cosine_lambda",
    "OPTIMIZERS",
]

OPTIMIZERS = ("sgd", "adamw", "lars")
#: how an optimizer step runs: "auto" (multi-tensor on CUDA, one tensor at a time elsewhere:
#: today's CPU behaviour), "loop", "foreach" (one kernel per op for all tensors), "fused" (SGD
#: and AdamW: one kernel for the whole step).
IMPLEMENTATIONS = ("auto", "loop", "foreach", "fused")


def _grad(p: torch.Tensor) -> torch.Tensor:
    """``p.grad``; the step passes only parameters that have one."""
    if p.grad is None:
        raise RuntimeError(f"LARS: a parameter of shape {tuple(p.shape)} has no gradient")
    return p.grad


class LARS(Optimizer):
    """SGD with momentum and a per-parameter trust ratio (You et al. 2017, Algorithm 1).

    For each parameter tensor ``w`` with gradient ``g``::

        trust = eta * ||w|| / (||g|| + weight_decay * ||w||)   (1 if either norm is 0)
        v     = momentum * v + lr * trust * (g + weight_decay * w)
        w     = w - v

    The learning rate sits inside the momentum buffer, as in the paper and SimCLR's LARS. With
    the paper's ``eta = 1e-3`` the step is ``lr * 1e-3`` times the weight norm, so LARS takes
    learning rates of order 0.1-10 (SimCLR: 0.3 x batch/256), not AdamW's.

    Exclusions (plain SGD with momentum: no trust ratio):

    * ``exclude_1d`` (default True): parameters with ``ndim <= 1`` (biases, norm scales and
      shifts) get neither weight decay nor the trust ratio, as in SimCLR.
    * ``lars_exclude`` (default False; usually set per parameter group, e.g. for a linear
      probe): the whole group skips the trust ratio but keeps its ``weight_decay``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 1e-3,
        exclude_1d: bool = True,
        lars_exclude: bool = False,
        foreach: bool | None = None,
    ) -> None:
        _check_hyper(lr, weight_decay, momentum)
        self.foreach = foreach  # None: multi-tensor when every parameter is on a CUDA device
        if not (math.isfinite(eta) and eta > 0):
            raise ValueError(f"LARS: eta must be a finite number > 0, got {eta!r}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            eta=eta,
            exclude_1d=exclude_1d,
            lars_exclude=lars_exclude,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("LARS does not support sparse gradients")
            foreach = (
                self.foreach
                if self.foreach is not None
                else bool(params) and all(p.is_cuda for p in params)
            )
            if foreach:
                plain = [p for p in params if group["exclude_1d"] and p.ndim <= 1]
                self._update_foreach(plain, group, adapt=False, weight_decay=0.0)
                self._update_foreach(
                    [p for p in params if not (group["exclude_1d"] and p.ndim <= 1)],
                    group,
                    adapt=not group["lars_exclude"],
                    weight_decay=group["weight_decay"],
                )
            else:
                for p in params:
                    self._update(p, group)
        return loss

    def _update_foreach(
        self, params: list[torch.Tensor], group: dict[str, Any], adapt: bool, weight_decay: float
    ) -> None:
        """`_update` for many tensors at once: the same arithmetic, a few kernels per step
        instead of a few per tensor, and no host synchronisation (the trust ratios stay on the device)."""
        if not params:
            return
        grads = [_grad(p) for p in params]
        updates = (
            torch._foreach_add(grads, params, alpha=weight_decay)
            if weight_decay != 0
            else [g.clone() for g in grads]
        )
        if adapt:
            w_norm = torch.stack(torch._foreach_norm(params))
            denom = torch.stack(torch._foreach_norm(grads)) + weight_decay * w_norm
            ok = (w_norm > 0) & (denom > 0)
            ratio = torch.where(
                ok,
                group["eta"] * w_norm / torch.where(ok, denom, torch.ones_like(denom)),
                torch.ones_like(w_norm),
            )
            torch._foreach_mul_(updates, list(ratio.unbind()))
        torch._foreach_mul_(updates, group["lr"])
        bufs, fresh = [], []
        for p, update in zip(params, updates, strict=True):
            state = self.state[p]
            if "momentum_buffer" in state:
                bufs.append(state["momentum_buffer"])
                fresh.append(update)
            else:
                state["momentum_buffer"] = update
        if bufs:
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, fresh)
        torch._foreach_sub_(params, [self.state[p]["momentum_buffer"] for p in params])

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        g = _grad(p)
        plain_1d = group["exclude_1d"] and p.ndim <= 1
        wd = 0.0 if plain_1d else group["weight_decay"]
        update = g.add(p, alpha=wd) if wd != 0 else g.clone()
        if not (plain_1d or group["lars_exclude"]):
            update.mul_(self.trust_ratio(p, g, group["eta"], wd))
        update.mul_(group["lr"])
        state = self.state[p]
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = update
        else:
            buf.mul_(group["momentum"]).add_(update)
        p.sub_(buf)

    @staticmethod
    def trust_ratio(
        w: torch.Tensor, g: torch.Tensor, eta: float, weight_decay: float
    ) -> torch.Tensor:
        """``eta * ||w|| / (||g|| + weight_decay * ||w||)``, or 1 when a norm is zero (a 0-d tensor)."""
        w_norm = torch.linalg.vector_norm(w)
        denom = torch.linalg.vector_norm(g) + weight_decay * w_norm
        ok = (w_norm > 0) & (denom > 0)
        return torch.where(
            ok,
            eta * w_norm / torch.where(ok, denom, torch.ones_like(denom)),
            torch.ones_like(w_norm),
        )


def _check_hyper(lr: float, weight_decay: float, momentum: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be a finite number > 0, got {lr!r}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")


def build_optimizer(
    params_or_groups: Iterable[Any],
    name: str,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    *,
    eta: float = 1e-3,
    exclude_1d: bool = True,
    implementation: str = "auto",
) -> Optimizer:
    """Build ``sgd`` (with momentum), ``adamw`` or ``lars`` over parameters or parameter groups.

    Groups may override ``lr`` and ``weight_decay`` and may carry ``lars_exclude: True`` (no
    trust ratio for that group under LARS; dropped for SGD/AdamW). ``momentum`` is ignored by
    AdamW (default betas); ``eta`` and ``exclude_1d`` only concern LARS. SGD and AdamW apply
    weight decay to every parameter of a group; only LARS skips 1-D parameters.
    ``implementation`` (see `IMPLEMENTATIONS`) changes how fast a step runs, not what it
    computes; "fused" is for SGD and AdamW (LARS has no fused kernel: use "foreach").
    """
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    _check_hyper(lr, weight_decay, momentum)
    if implementation not in IMPLEMENTATIONS or (key == "lars" and implementation == "fused"):
        allowed = [i for i in IMPLEMENTATIONS if key != "lars" or i != "fused"]
        raise ValueError(
            f"optimizer.implementation={implementation!r} for {key}: expected one of {', '.join(allowed)}"
        )
    groups = list(params_or_groups)
    if not groups:
        raise ValueError(f"build_optimizer({name!r}): no parameters to optimise")
    # None is torch's default: "auto" already picks foreach on CUDA and the loop on CPU
    foreach = {"loop": False, "foreach": True}.get(implementation)
    if key == "lars":
        return LARS(
            groups,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            eta=eta,
            exclude_1d=exclude_1d,
            foreach=foreach,
        )
    groups = [
        {k: v for k, v in g.items() if k != "lars_exclude"} if isinstance(g, dict) else g
        for g in groups
    ]
    fused = True if implementation == "fused" else None
    if key == "sgd":
        return torch.optim.SGD(
            groups,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            foreach=foreach,
            fused=fused,
        )
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, foreach=foreach, fused=fused)


def scaled_lr(
    base_lr: float,
    global_batch_size: int,
    reference: int = 256,
    rule: Literal["linear", "sqrt"] | None = "linear",
) -> float:
    """The learning rate for a global batch (all processes x accumulation).

    ``linear``: ``base_lr * B / reference`` (Goyal et al. 2017; SimCLR with SGD/LARS);
    ``sqrt``: ``base_lr * sqrt(B / reference)`` (SimCLR's choice for LARS at small batches);
    ``None``: ``base_lr`` unchanged.
    """
    if not (math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"scaled_lr: base_lr must be a finite number > 0, got {base_lr!r}")
    if global_batch_size < 1 or reference < 1:
        raise ValueError(
            f"scaled_lr: global_batch_size and reference must be >= 1, got {global_batch_size} and {reference}"
        )
    if rule is None:
        return float(base_lr)
    ratio = global_batch_size / reference
    if rule == "linear":
        return float(base_lr * ratio)
    if rule == "sqrt":
        return float(base_lr * math.sqrt(ratio))
    raise ValueError(f"scaled_lr: unknown rule {rule!r}; choose 'linear', 'sqrt' or None")


@dataclass(frozen=True)
class WarmupCosine:
    """The factor of [`warmup_cosine_lambda`][structured_ssl.methods.optim.warmup_cosine_lambda]; a
    class, not a closure, so it pickles.

    ``LambdaLR.state_dict`` saves callable objects' attributes, so a resumed run restores the
    same schedule; the step itself is the scheduler's ``last_epoch``.
    """

    warmup_steps: int
    total_steps: int
    final_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.final_ratio + (1.0 - self.final_ratio) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )


def constant_lr(step: int) -> float:
    """The probe's schedule: none (a named function, so checkpoints of the scheduler pickle)."""
    return 1.0


def warmup_cosine_lambda(
    warmup_steps: int, total_steps: int, final_ratio: float = 0.0
) -> Callable[[int], float]:
    """Linear warm-up then cosine decay, as a multiplier of the peak learning rate.

    Step ``s`` (optimizer steps, from 0): ``(s + 1) / warmup_steps`` while ``s < warmup_steps``
    (so the first step uses a small non-zero rate and the peak 1.0 is reached on the last
    warm-up step), then ``final + (1 - final) * (1 + cos(pi * p)) / 2`` with
    ``p = (s - warmup_steps) / (total_steps - warmup_steps)`` clipped to 1: ``final_ratio`` at
    ``total_steps`` and after. ``warmup_steps >= total_steps`` gives a pure warm-up (short runs).
    """
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(
            f"warmup_cosine_lambda: need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps} and {total_steps}"
        )
    if not 0.0 <= final_ratio <= 1.0:
        raise ValueError(
            f"warmup_cosine_lambda: final_ratio must be in [0, 1], got {final_ratio!r}"
        )
    return WarmupCosine(int(warmup_steps), int(total_steps), float(final_ratio))
