"""The paper's central claim on the two new groups: H-SSL on one forward pass reads the pairs
A-SSL reads on two augmented views (see tests/ssl/test_subsumption.py for the discrete groups).

* SO(2): views rotated by φ1, φ2 and read at θ0 are H-SSL's fibers at θ0 - φ1, θ0 - φ2: equal to
  float tolerance at quarter turns, and within the input's interpolation error at other angles.
* Translation x rotation: views rotated by k quarter steps and shifted by whole cells (A-SSL's
  kornia warp) read at one base p0 are H-SSL's fibers at g^-1 p0, found with the encoder's Γ_g.
"""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.groups import Group
from structured_ssl.groups.so2.layers import rotate_images, smooth_probe_images
from structured_ssl.groups.so2.positions import AngleViews
from structured_ssl.methods import AugmentationSSL, StructuredSSL
from structured_ssl.methods.positions import AugmentedViews, FiberViews
from structured_ssl.ssl.losses import NTXent
from structured_ssl.ssl.pairs import PairSampling


def twin_models(structured_cls, augmentation_cls, **common):
    torch.manual_seed(0)
    structured = structured_cls(**common)
    augmentation = augmentation_cls(**common)
    augmentation.load_state_dict(structured.state_dict(), strict=False)  # same encoder and head
    structured.eval(), augmentation.eval()
    return structured, augmentation


def losses(model, pairs):
    return model.loss_fn(model.projector(pairs.first), model.projector(pairs.second))["loss"]


@torch.no_grad()
def so2_pairs(structured, augmentation, x, phi1, phi2, theta0):
    views = torch.cat([rotate_images(x, phi1), rotate_images(x, phi2)])
    a = augmentation.read_pairs(AngleViews(views, theta0, theta0), augmentation.encoder)
    s = structured.read_pairs(AngleViews(x, theta0 - phi1, theta0 - phi2), structured.encoder)
    return a, s


SO2 = dict(
    group=Group("so2"),
    loss=NTXent(temperature=0.1),
    in_channels=1,
    image_size=21,
    pairs=PairSampling(g0_size=2),
)


def test_so2_quarter_turn_views_are_hssl_fibers() -> None:
    structured, augmentation = twin_models(StructuredSSL, AugmentationSSL, **SO2)
    x = torch.rand(12, 1, 21, 21)
    g = torch.Generator().manual_seed(0)
    quarter = math.pi / 2
    phi1, phi2 = (torch.randint(4, (12,), generator=g) * quarter for _ in range(2))
    theta0 = torch.rand(12, generator=g) * 2 * math.pi  # any angle: the read-out is continuous
    a, s = so2_pairs(structured, augmentation, x, phi1, phi2, theta0)
    torch.testing.assert_close(s.first, a.first, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s.second, a.second, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(losses(structured, s), losses(augmentation, a), atol=1e-4, rtol=1e-4)


def test_so2_arbitrary_angle_views_match_within_interpolation() -> None:
    structured, augmentation = twin_models(StructuredSSL, AugmentationSSL, **SO2)
    x = smooth_probe_images(12, 21)
    g = torch.Generator().manual_seed(1)
    phi1, phi2, theta0 = (torch.rand(12, generator=g) * 2 * math.pi for _ in range(3))
    a, s = so2_pairs(structured, augmentation, x, phi1, phi2, theta0)
    error = float((s.first - a.first).norm() / a.first.norm())
    _, wrong = so2_pairs(
        structured, augmentation, x, -phi1, -phi2, theta0
    )  # the views rotated the other way
    assert error < 0.06
    assert error < 0.6 * float((wrong.first - a.first).norm() / a.first.norm())


def source_cells(encoder, g, base: torch.Tensor, shape) -> torch.Tensor:
    """Where the fiber at ``base`` of Γ_g z comes from in z, by Γ_g on an index-coded map."""
    n, h, w = shape
    code = (
        torch.arange(float(n * h * w)).view(1, 1, n, h, w).expand(1, encoder.out_channels, n, h, w)
    )
    moved = encoder.transform_output(code.contiguous(), g)[0, 0]
    flat = moved[base[0], base[1], base[2]].long()
    return torch.stack([flat // (h * w), (flat // w) % h, flat % w])


def centred_disk(n: int, size: int, radius: float, seed: int = 0) -> torch.Tensor:
    """Random content inside a centred disk: quarter turns and shifts by one cell keep it on the
    canvas, so A-SSL's zero-fill warp and the encoder's torus roll agree."""
    centre = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    disk = ((yy**2 + xx**2).sqrt() <= radius).float()
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * disk


@pytest.mark.parametrize("train_mode", [False, True])
def test_roto_translation_views_are_hssl_fibers(train_mode) -> None:
    common = dict(
        group=Group("roto_translation", 4),
        loss=NTXent(temperature=0.1),
        in_channels=1,
        image_size=21,
    )
    structured, augmentation = twin_models(StructuredSSL, AugmentationSSL, **common)
    structured.train(train_mode), augmentation.train(train_mode)
    assert structured.grid.shape == (4, 6, 6) and structured.grid.cyclic
    assert augmentation.augment.element_grid.shape == (4, 3, 3)  # k, then shifts of -1..1 cells
    batch = 12
    x = centred_disk(batch, 21, radius=5.5)
    gen = torch.Generator().manual_seed(0)
    elements = [
        torch.stack(
            [
                torch.randint(4, (batch,), generator=gen),
                torch.randint(3, (batch,), generator=gen),
                torch.randint(3, (batch,), generator=gen),
            ],
            1,
        )
        for _ in range(2)
    ]
    base = torch.stack([torch.randint(n, (batch,), generator=gen) for n in (4, 6, 6)], 1)
    views = torch.cat([augmentation.augment(x, elements[0]), augmentation.augment(x, elements[1])])
    a = augmentation.read_pairs(AugmentedViews(views, base, 1), augmentation.encoder)
    # element (k, i, j) on A-SSL's grid is g = (k, i - 1, j - 1): k quarter turns, then (i-1, j-1) cells
    sources = [
        torch.stack(
            [
                source_cells(
                    structured.encoder, (int(e[0]), int(e[1]) - 1, int(e[2]) - 1), b, (4, 6, 6)
                )
                for e, b in zip(el, base, strict=True)
            ]
        )
        for el in elements
    ]
    s = structured.read_pairs(FiberViews(x, sources[0], sources[1]), structured.encoder)
    torch.testing.assert_close(s.first, a.first, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s.second, a.second, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(losses(structured, s), losses(augmentation, a), atol=1e-4, rtol=1e-4)
    moved = (sources[0] != base).any(1)
    assert moved.sum() >= batch // 2, "most pairs moved in position or orientation"
    assert ((sources[0][:, 0] != base[:, 0]) & (sources[0][:, 1:] != base[:, 1:]).any(1)).any(), (
        "both at once"
    )


def test_roto_translation_pairs_move_in_space_and_orientation() -> None:
    """The H-SSL sampler on the product grid: one distance over (k, row, col), cyclic on each."""
    model = StructuredSSL(
        group=Group("roto_translation", 4),
        in_channels=1,
        image_size=21,
        pairs=PairSampling(max_distance=1.5, allow_same_position=False),
    )
    views = model.make_views(torch.zeros(4000, 1, 21, 21))
    delta = (views.first - views.second).abs()
    sizes = torch.tensor([4, 6, 6])
    delta = torch.minimum(delta, sizes - delta).float()
    distance = delta.pow(2).sum(1).sqrt()
    assert float(distance.max()) <= 1.5 + 1e-6 and float(distance.min()) > 0
    assert (
        (delta[:, 0] > 0).any()
        and (delta[:, 1:] > 0).any()
        and ((delta[:, 0] > 0) & (delta[:, 1:] > 0).any(1)).any()
    )
    # wrap-around pairs exist on every axis (the canvas is a torus, C4 a circle)
    for axis, n in enumerate((4, 6, 6)):
        assert ((views.first[:, axis] - views.second[:, axis]).abs() == n - 1).any()
