"""The scale encoder: steerable (dilated) basis, and equivariance to zooming out within a
stated tolerance, clearly better than its structure-free twin."""

from __future__ import annotations

import pytest
import torch

from structured_ssl.encoders import EncoderSpec, build_encoder
from structured_ssl.encoders.scale import ScaleLift, hermite_basis
from structured_ssl.encoders.scale_action import ScaleAction
from structured_ssl.groups import Group

# scales with exact ratios sqrt(2): zooming out by 2 moves the scale axis by 2
GROUP = Group("scale", scales=(1.0, 2**0.5, 2.0, 2**1.5))


def blobs(size: int, seed: int) -> torch.Tensor:
    """Smooth images (sums of Gaussian blobs): discretisation stays small when zooming."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size) - size // 2, torch.arange(size) - size // 2, indexing="ij")
    images = []
    for _ in range(3):
        centre = (torch.rand(3, 2, generator=g) - 0.5) * size / 3
        widths = size / 8 + torch.rand(3, generator=g) * size / 10
        images.append(sum(torch.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * w**2)) for c, w in zip(centre, widths, strict=True)))
    return torch.stack(images).unsqueeze(1).float()


def relative_error(module, action, x, g) -> float:
    with torch.no_grad():
        moved = action.comparable(module(action.transform_input(x, g)), g)
        expected = action.comparable(action.transform_output(module(x), g), g)
    return float((moved - expected).norm() / expected.norm())


def test_basis_at_scale_s_is_the_dilated_basis() -> None:
    basis = hermite_basis(31, 3, (1.0, 2.0))
    assert basis.shape == (9, 2, 31, 31) and torch.isfinite(basis).all()
    # sampled at the same points of the continuous function: psi_2(2u) * 4 == psi_1(u)
    centre = 15
    u = torch.arange(-7, 8)
    small = basis[:, 0][:, centre + u][:, :, centre + u]
    dilated = basis[:, 1][:, centre + 2 * u][:, :, centre + 2 * u] * 4
    torch.testing.assert_close(dilated, small, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("g", [(1,), (2,)])
def test_lifting_layer_is_scale_equivariant_within_10_percent(seed, g) -> None:
    torch.manual_seed(seed)
    lift = ScaleLift(1, 8, kernel_size=11, effective_size=3, scales=GROUP.scales, padding=5)
    assert relative_error(lift, ScaleAction(GROUP), blobs(41, seed), g) < 0.1


@pytest.mark.parametrize("g", [(1,), (2,)])
def test_encoder_is_approximately_equivariant_and_its_twin_is_not(g) -> None:
    """Measured on 21x21 inputs: ~0.6-0.75 for the 3-layer encoder (two stride-2 layers on
    11x11 and 6x6 maps discretise the zoom), 1.7-10 for the twin. Tolerance: 0.8, and at
    least 2x better than the twin."""
    torch.manual_seed(0)
    x = blobs(21, 0)
    structured = build_encoder(EncoderSpec(), GROUP, 1, 21).eval()
    twin = build_encoder(EncoderSpec(structured=False), GROUP, 1, 21).eval()
    action = ScaleAction(GROUP)
    ours, theirs = relative_error(structured, action, x, g), relative_error(twin, action, x, g)
    assert ours < 0.8
    assert theirs > 2 * ours
    assert structured(x).shape == (3, structured.out_channels, 4, 6, 6)


def test_scale_batchnorm_converts_to_sync() -> None:
    enc = build_encoder(EncoderSpec(), Group("scale"), 1, 21)
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(enc)
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in converted.modules()) == 3
