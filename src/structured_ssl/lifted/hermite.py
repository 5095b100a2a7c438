"""The Hermite-Gaussian filter basis of the SESN layers (Sosnovik et al., ICLR 2020), sampled at
given scales: shared by the scale convolutions (``groups/scale/conv.py``, whose docstring
derives it), the paper's rotation filter copies (``groups/rotation/rot90_conv.py``) and the
MNIST conv read-out (``encoders/readout.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from numpy.polynomial import hermite_e
from torch import nn

SIGMA_PER_SCALE = 0.75  # Gaussian width in pixels per unit of scale (SESN: 1.0); see above


def hermite_basis(
    kernel_size: int,
    effective_size: int,
    scales: Sequence[float],
    envelope: float = SIGMA_PER_SCALE,
) -> torch.Tensor:
    """The steerable basis ``(effective_size**2, len(scales), k, k)`` (see the module docstring).

    A function that vanishes at the smallest scale is normalised at the smallest scale where
    it does not. ``kernel_size=1`` gives one constant function shared by all scales (SESN's
    separate ``SESConv_H_H_1x1``): a 1x1 kernel cannot dilate, and the 1/s^2 amplitude would
    only shrink the larger scales' responses (wrong for e.g. ResNet projection shortcuts).
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} must be odd (the basis is centred on a pixel)")
    if effective_size < 1:
        raise ValueError(f"effective_size={effective_size} must be >= 1")
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales={list(scales)} must be positive")
    if envelope <= 0:
        raise ValueError(f"envelope={envelope} must be positive (Gaussian width per unit scale)")
    if kernel_size == 1:
        if effective_size != 1:
            raise ValueError(
                f"kernel_size=1 has a single basis function; got effective_size={effective_size}"
            )
        return torch.ones(1, len(scales), 1, 1)
    offsets = np.arange(kernel_size) - kernel_size // 2
    per_scale = []
    for s in scales:
        width = envelope * s
        t = offsets / width
        gaussian = np.exp(-(t**2) / 2) / width  # 1/r per axis: 1/r^2 in 2D
        profiles = np.stack(
            [hermite_e.hermeval(t, [0] * n + [1]) * gaussian for n in range(effective_size)]
        )
        per_scale.append(
            np.einsum("ny,mx->nmyx", profiles, profiles).reshape(
                effective_size**2, kernel_size, kernel_size
            )
        )
    basis = np.stack(per_scale, axis=1)  # (F, S, k, k)
    norms = np.sqrt((basis**2).sum(axis=(2, 3)))  # (F, S)
    order = np.argsort(scales, kind="stable")
    ordered = norms[:, order]
    first_nonzero = np.argmax(ordered > 1e-8 * ordered.max(axis=1, keepdims=True), axis=1)
    reference = ordered[np.arange(len(ordered)), first_nonzero]
    return torch.tensor(basis / reference[:, None, None, None], dtype=torch.float32)


def init_weight(shape: tuple[int, ...]) -> nn.Parameter:
    """He-normal on the basis coefficients: the basis is L2-normalised and close to
    orthogonal, so a kernel has about sum(w^2) energy; fan-in = all but the first dim."""
    fan_in = math.prod(shape[1:])
    return nn.Parameter(torch.randn(shape) * math.sqrt(2.0 / fan_in))
