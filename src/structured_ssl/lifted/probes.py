"""The content equivariance is measured on: smooth images inside a centred disk (the default
probe of every group's ``check``; the online monitor reads training images instead)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def probe_images(channels: int, size: int, count: int = 8, seed: int = 0) -> torch.Tensor:
    """Smooth random images whose content stays inside a centred disk (radius 0.3 x size).

    Content away from the border is what the bounds are stated for: rotations keep it on the
    canvas, zooms out keep it inside the footprint, and shifts never carry it across an edge.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(count, channels, size, size, generator=generator)
    sigma = max(1.0, size / 16)
    radius = int(math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    smooth = F.conv2d(noise.flatten(0, 1)[:, None], kernel.view(1, 1, 1, -1), padding=(0, radius))
    smooth = F.conv2d(smooth, kernel.view(1, 1, -1, 1), padding=(radius, 0)).view_as(noise)
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    disk = ((yy**2 + xx**2).sqrt() <= 0.3 * size).float()
    images = (smooth - smooth.mean(dim=(-2, -1), keepdim=True)) * 8 + 0.5
    return images.clamp(0, 1) * disk
