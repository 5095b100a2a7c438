"""Argument checks the pair losses share: the two views' shapes and dtypes, the global batch a
contrastive or batch-statistics loss needs, and positive / non-negative settings. Each fails
early with the loss's name and the offending value, before any arithmetic."""

from __future__ import annotations

import math

from torch import Tensor


def check_pair(z1: Tensor, z2: Tensor, loss: str, names: tuple[str, str] = ("z1", "z2")) -> None:
    """Both views 2-D ``(N, D)`` floating tensors of the same shape: fail early, by name."""
    for name, z in zip(names, (z1, z2), strict=True):
        if not isinstance(z, Tensor):
            raise TypeError(f"{loss}: {name} must be a torch.Tensor, got {type(z).__name__}")
        if z.dim() != 2:
            raise ValueError(f"{loss}: {name} must be 2-D (batch, dim), got shape {tuple(z.shape)}")
        if not z.is_floating_point():
            raise TypeError(f"{loss}: {name} must be a floating-point tensor, got dtype {z.dtype}")
    if z1.shape != z2.shape:
        raise ValueError(
            f"{loss}: {names[0]} and {names[1]} must have the same shape (row i of each is a "
            f"positive pair), got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape[1] == 0:
        raise ValueError(
            f"{loss}: embeddings must have at least one dimension, got shape {tuple(z1.shape)}"
        )


def check_batch(loss: str, local: int, needed: int, why: str, world: int = 1) -> None:
    """Contrastive and batch-statistics losses need ``needed`` rows in the GLOBAL batch."""
    total = local * world
    if total < needed:
        raise ValueError(
            f"{loss} needs a global batch of at least {needed} pairs ({why}); got per-process "
            f"batch {local} x {world} process(es) = global batch {total}"
        )


def check_positive(loss: str, name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{loss}: {name} must be a finite number > 0, got {value!r}")


def check_nonnegative(loss: str, name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{loss}: {name} must be a finite number >= 0, got {value!r}")
