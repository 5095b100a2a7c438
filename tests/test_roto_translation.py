"""Translation x rotation: one lifted map, fibers on space x C_N, exact on the circular canvas."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from structured_ssl.encoders.roto_translation import RotoTranslationEncoder, rotate_about_half


@pytest.fixture(scope="module")
def encoder() -> RotoTranslationEncoder:
    torch.manual_seed(0)
    return RotoTranslationEncoder(1, SimpleNamespace(order=4)).eval()


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_quarter_turn_about_half_pixel_is_a_torus_permutation() -> None:
    """Four quarter turns are the identity, and pixel (S/2, S/2) stays put."""
    x = torch.rand(2, 1, 24, 24)
    once = rotate_about_half(x, 1, 4)
    assert not torch.equal(once, x)
    assert torch.equal(rotate_about_half(rotate_about_half(once, 1, 4), 2, 4), x)
    assert torch.equal(once[..., 12, 12], x[..., 12, 12])
    assert torch.equal(torch.sort(once.flatten(1)).values, torch.sort(x.flatten(1)).values)


@pytest.mark.parametrize("g", [(1, 0, 0), (2, 1, -2), (0, 2, 1), (3, -1, 0), (1, 3, 3)])
def test_product_action_is_exact_for_any_content(encoder, g) -> None:
    """f(T_g x) = Γ_g f(x) to float round-off, for random content reaching the border."""
    x = torch.rand(3, 1, 21, 21)
    with torch.no_grad():
        moved, expected = encoder(encoder.transform_input(x, g)), encoder.transform_output(encoder(x), g)
    assert relative(moved, expected) < 1e-5
    assert relative(moved, encoder(x)) > 0.05, "the element moves the map (not the identity)"


def test_fiber_map_keeps_space_and_orientation(encoder) -> None:
    z = encoder(torch.rand(2, 1, 21, 21))
    assert encoder.fiber_map(z).shape == (2, 32, 4, 6, 6)
    assert encoder.fiber_grid_cyclic()
