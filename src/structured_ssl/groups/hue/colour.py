"""Hue as an exact cyclic action on RGB: rotations of colour space about the grey axis.

A hue shift by 360/N degrees is here the rotation of RGB space about the grey axis
``u = (1, 1, 1) / sqrt(3)`` by that angle (Rodrigues' formula), applied to every pixel.

Why this colour space and not HSV:

* **exact**: the map is one orthogonal 3x3 matrix ``R_k``; ``R_k = R_1^k`` and ``R_1^N = I``,
  so N shifts compose to the identity up to float round-off (measured in
  ``tests/groups/test_hue_group.py``), and ``R_-k = R_k^T`` undoes ``R_k``;
* **linear**: it commutes with anything linear over pixels (zooms, crops, shifts, blurs,
  averaging over space), so hue composes with the geometric groups as a direct product;
* **invertible**: no clipping, no gamut: values may leave [0, 1] (a saturated red turned by
  60 degrees), and they are kept, which is what keeps the action a group action;
* **preserves the luminance mean**: the grey component ``(r + g + b) / 3`` (the projection on
  ``u``) is unchanged, and so is the distance between any two colours (contrast).

HSV hue differs: its hue is a position on a hexcone, piecewise linear in RGB, and a shifted
colour must be clipped back into the RGB cube (kornia's ``adjust_hue`` / torchvision's
``ColorJitter`` do this). Clipping loses information, so an HSV shift followed by its inverse
is not the identity, N shifts by 360/N do not compose to it, and no network can be exactly
equivariant to it. Order 3 is the channel permutation R -> G -> B (120 degrees): an exact
permutation of values.
"""

from __future__ import annotations

import math

import torch

#: the grey axis (1, 1, 1) / sqrt(3), the rotation axis of every hue shift.
GREY_AXIS = (1 / math.sqrt(3),) * 3


def hue_matrix(angle: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 3x3 rotation of RGB space by ``angle`` radians about the grey axis (computed in
    float64, then cast: each power k is built from its own angle, never by repeated products)."""
    u = torch.tensor(GREY_AXIS, dtype=torch.float64)
    cross = torch.tensor(
        [[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]], dtype=torch.float64
    )
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = cos * torch.eye(3, dtype=torch.float64) + sin * cross + (1 - cos) * torch.outer(u, u)
    return rotation.to(dtype)


def hue_matrices(order: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(N, 3, 3)``: the N hue shifts ``R_k`` by ``360 k / N`` degrees."""
    return torch.stack([hue_matrix(2 * math.pi * k / order, dtype) for k in range(order)])


def check_rgb(x: torch.Tensor, where: str) -> None:
    """Hue acts on 3 channels only (one line naming the shape otherwise)."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(
            f"{where}: hue shifts act on RGB images (B, 3, H, W), got {tuple(x.shape)}"
        )


def hue_rotate(x: torch.Tensor, k: int, order: int) -> torch.Tensor:
    """``T_k x``: every pixel of ``(B, 3, H, W)`` rotated by ``360 k / N`` degrees of hue."""
    check_rgb(x, "hue_rotate")
    matrix = hue_matrix(2 * math.pi * (k % order) / order, x.dtype).to(x.device)
    return torch.einsum("ij,bjhw->bihw", matrix, x)


def hue_rotate_each(x: torch.Tensor, k: torch.Tensor, order: int) -> torch.Tensor:
    """Per-example hue shifts: ``x[b]`` rotated by ``360 k[b] / N`` degrees (A-SSL's views)."""
    check_rgb(x, "hue_rotate_each")
    matrices = hue_matrices(order, x.dtype).to(x.device)[k.long() % order]  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", matrices, x)
