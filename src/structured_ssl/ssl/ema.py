"""BYOL's EMA target network: the cosine-annealed momentum and the in-place update.

Split from ``losses.py``: the losses compare embeddings, this module moves one network's
weights towards another's (what BYOL's target needs, and nothing a loss computes).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn


def momentum_at(step: int, total_steps: float, base: float = 0.996, final: float = 1.0) -> float:
    """BYOL's cosine-annealed EMA momentum (Grill et al. 2020, sec. 3.2).

    ``tau_k = final - (final - base) * (cos(pi k / K) + 1) / 2``: ``base`` at step 0,
    ``final`` at step ``K = total_steps`` and after. An infinite or unknown ``total_steps``
    (an open-ended run) keeps ``base``.
    """
    if not 0.0 <= base <= final <= 1.0:
        raise ValueError(
            f"momentum_at: need 0 <= base <= final <= 1, got base={base}, final={final}"
        )
    if step < 0:
        raise ValueError(f"momentum_at: step must be >= 0, got {step}")
    if total_steps is None or not math.isfinite(total_steps) or total_steps <= 0:
        return float(base)
    progress = min(step / total_steps, 1.0)
    return float(final - (final - base) * (math.cos(math.pi * progress) + 1.0) / 2.0)


BufferMode = Literal["ema", "copy", "keep"]


@torch.no_grad()
def ema_update_(
    target: nn.Module, online: nn.Module, momentum: float, buffers: BufferMode = "ema"
) -> None:
    """In place: ``target = momentum * target + (1 - momentum) * online``.

    Parameters are matched by name and must agree in names and shapes. Buffers present in
    both under the same name: floating-point ones follow ``buffers`` ("ema": averaged like the
    parameters, so the target stays an average of the whole online state; "copy"; "keep":
    untouched, e.g. when the target's batch norms track their own statistics), others (batch
    norms' ``num_batches_tracked``) are copied. Buffers only one side has (escnn's eval-mode
    filter caches) are skipped.

    escnn convolutions cache their expanded filter when put in eval mode and keep using it while
    the weights change (FIELD-NOTES, "Stale filter"); every part of ``target`` that is in eval
    mode is therefore re-entered into eval (``train()`` then ``eval()``) to rebuild its caches.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"ema_update_: momentum must be in [0, 1], got {momentum}")
    if buffers not in ("ema", "copy", "keep"):
        raise ValueError(f"ema_update_: buffers must be 'ema', 'copy' or 'keep', got {buffers!r}")
    target_params = dict(target.named_parameters())
    online_params = dict(online.named_parameters())
    if target_params.keys() != online_params.keys():
        missing = sorted(online_params.keys() - target_params.keys())
        extra = sorted(target_params.keys() - online_params.keys())
        raise ValueError(
            f"ema_update_: parameter names differ; missing in target {missing}, extra in target {extra}"
        )
    for name, t in target_params.items():
        o = online_params[name]
        if t.shape != o.shape:
            raise ValueError(
                f"ema_update_: parameter {name!r} has shape {tuple(t.shape)} in target, {tuple(o.shape)} online"
            )
        t.lerp_(o.detach().to(t.dtype), 1.0 - momentum)
    online_buffers = dict(online.named_buffers())
    for name, buf in target.named_buffers():
        online_buf = online_buffers.get(name)
        if online_buf is None or (buffers == "keep" and buf.is_floating_point()):
            continue
        if buf.shape != online_buf.shape:
            raise ValueError(
                f"ema_update_: buffer {name!r} has shape {tuple(buf.shape)} in target, {tuple(online_buf.shape)} online"
            )
        if buf.is_floating_point() and buffers == "ema":
            buf.lerp_(online_buf.to(buf.dtype), 1.0 - momentum)
        else:
            buf.copy_(online_buf)
    _refresh_eval_caches(target)


def _refresh_eval_caches(module: nn.Module) -> None:
    """Re-enter eval mode in every eval-mode subtree so cached expansions follow the weights."""
    if not module.training:
        module.train()
        module.eval()
        return
    for child in module.children():
        _refresh_eval_caches(child)
