"""Projection and prediction heads: the MLPs between the encoder's read-out and the loss."""

from __future__ import annotations

from torch import nn


def projection_head(
    dims: tuple[int, ...], in_dim: int, final_batchnorm: bool = True
) -> nn.Sequential:
    """Linear + BatchNorm per layer, ReLU between (not after the last).

    ``final_batchnorm=True`` is the H-SSL paper's SimCLR head (BN after every layer, also the
    last). False ends in a plain Linear with bias: BYOL's projector and predictor, VICReg's
    expander and Barlow Twins' projector as their papers define them.
    """
    layers: list[nn.Module] = []
    current = in_dim
    for i, width in enumerate(dims):
        last = i == len(dims) - 1
        if last and not final_batchnorm:
            layers.append(nn.Linear(current, width))
        else:
            layers += [nn.Linear(current, width, bias=False), nn.BatchNorm1d(width)]
        if not last:
            layers.append(nn.ReLU(inplace=True))
        current = width
    return nn.Sequential(*layers)
