"""Translation x rotation: one lifted map, fibers on space x C_N, exact on the circular canvas."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from structured_ssl.groups.roto_translation.layers import RotoTranslationEncoder, rotate_about_half


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
        moved, expected = (
            encoder(encoder.transform_input(x, g)),
            encoder.transform_output(encoder(x), g),
        )
    assert relative(moved, expected) < 1e-5
    assert relative(moved, encoder(x)) > 0.05, "the element moves the map (not the identity)"


def test_fiber_map_keeps_space_and_orientation(encoder) -> None:
    z = encoder(torch.rand(2, 1, 21, 21))
    assert encoder.fiber_map(z).shape == (2, 32, 4, 6, 6)
    assert encoder.fiber_grid_cyclic()


def test_check_measures_every_exact_element_within_the_exact_bound() -> None:
    """What ``check`` reports: quarter turns x shifts by -1..1 cells, all exact; rolling only the
    orientations (no spatial roll) would be far off (the no-shift column is the error of no action)."""
    from structured_ssl.encoders.equivariance import measure
    from structured_ssl.groups import Group
    from structured_ssl.lifted.bounds import EXACT
    from structured_ssl.lifted.probes import probe_images
    from structured_ssl.methods import StructuredSSL

    encoder = StructuredSSL(group=Group("roto_translation", 4), image_size=21).encoder
    rows = measure(encoder, probe_images(1, 21))
    assert encoder.equivariance_bound() == EXACT
    assert len(rows) == 4 * 9 - 1
    assert all(r.within(EXACT) for r in rows)
    assert min(r.baseline for r in rows) > 0.05


def test_bad_settings_name_the_field() -> None:
    from structured_ssl.encoders.factory import EncoderSpec
    from structured_ssl.groups import Group
    from structured_ssl.methods import StructuredSSL

    group = Group("roto_translation", 4)
    with pytest.raises(ValueError, match=r"data\.image_size=20"):
        StructuredSSL(group=group, image_size=20)
    with pytest.raises(ValueError, match=r"encoder\.padding_mode='zeros'"):
        StructuredSSL(group=group, image_size=21, encoder=EncoderSpec(padding_mode="zeros"))
    with pytest.raises(ValueError, match=r"roto_translation.*small"):
        StructuredSSL(group=group, image_size=29, encoder=EncoderSpec(architecture="paper_mnist"))
