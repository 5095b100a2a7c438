"""The hue group C_N: an exact cyclic action on RGB, an input lift equivariant to float error
whatever its weights, A-SSL views that are T_g, and RGB-only settings refused in one line.

``tests/groups/test_group_plugins.py`` runs the contract checks over it too; this file holds what is
hue's own: the colour algebra, the lift's float-level bound after weights and batch-norm
statistics move, the twin's false claim and the bad inputs.
"""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.groups.hue.colour import hue_matrix, hue_rotate, hue_rotate_each
from structured_ssl.lifted.probes import probe_images

SIZE = 21


@pytest.mark.parametrize("order", [3, 4, 6, 8, 12])
def test_n_hue_shifts_compose_to_the_identity(order: int) -> None:
    x = torch.rand(4, 3, 7, 7, generator=torch.Generator().manual_seed(order))
    y = x
    for _ in range(order):
        y = hue_rotate(y, 1, order)
    assert (y - x).abs().max() < 2e-6, "N shifts by 360/N degrees are the identity"
    assert (hue_rotate(hue_rotate(x, 1, order), -1, order) - x).abs().max() < 1e-6
    assert (hue_rotate(x, 1, order) - x).abs().max() > 0.05, "and one shift moves colours"


def test_a_hue_shift_is_an_orthogonal_rotation_about_grey() -> None:
    rotation = hue_matrix(2 * math.pi / 8, torch.float64)
    assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.linalg.det(rotation), torch.tensor(1.0, dtype=torch.float64))
    grey = torch.ones(3, dtype=torch.float64)
    assert torch.allclose(rotation @ grey, grey), "grey stays grey: the luminance mean is kept"
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(hue_rotate(x, 3, 8).mean(dim=1), x.mean(dim=1), atol=1e-6)


def test_order_three_is_the_channel_permutation() -> None:
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(hue_rotate(x, 1, 3), x[:, [2, 0, 1]], atol=1e-6), "red -> green -> blue"


def test_per_example_shifts_match_one_shift_each() -> None:
    x = torch.rand(3, 3, 5, 5)
    k = torch.tensor([0, 1, 3])
    each = hue_rotate_each(x, k, 4)
    for b in range(3):
        assert torch.allclose(each[b : b + 1], hue_rotate(x[b : b + 1], int(k[b]), 4), atol=1e-6)


def perturb(encoder: torch.nn.Module) -> None:
    """Random weights AND batch-norm statistics: the lift's bound must not depend on them."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.3)
        for m in encoder.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.add_(torch.randn(m.running_mean.shape, generator=generator))
                m.running_var.mul_(torch.rand(m.running_var.shape, generator=generator) + 0.5)


@pytest.mark.parametrize(
    ("mixing_layers", "architecture"),
    [(0, "small"), (1, "small"), (2, "small"), (1, "paper_cifar")],
)
def test_the_input_lift_is_equivariant_to_float_error_whatever_the_weights(
    mixing_layers: int, architecture: str
) -> None:
    group = Group("hue", order=4, options={"mixing_layers": mixing_layers})
    torch.manual_seed(0)
    encoder = build_encoder(EncoderSpec(architecture=architecture), group, 3, SIZE)
    perturb(encoder)
    rows = measure(encoder, probe_images(3, SIZE, count=3))
    assert {r.element for r in rows} == {(1,), (2,), (3,)}
    for row in rows:
        assert row.lifted < 1e-5 and row.fiber < 1e-5, row
        assert row.baseline > 1e3 * row.fiber, (
            "the action explains the move, doing nothing does not"
        )
    assert all(row.within(encoder.equivariance_bound()) for row in rows)


def test_the_structure_free_twin_claims_the_action_and_misses_it() -> None:
    group = Group("hue", order=4)
    torch.manual_seed(0)
    structured = build_encoder(EncoderSpec(), group, 3, SIZE)
    twin = build_encoder(EncoderSpec(structured=False), group, 3, SIZE)
    assert not twin.structured and twin.equivariance_bound() is None
    assert twin(probe_images(3, SIZE, 2)).shape == structured(probe_images(3, SIZE, 2)).shape
    assert (
        abs(twin.num_parameters() - structured.num_parameters()) < 0.1 * structured.num_parameters()
    )
    rows = measure(twin, probe_images(3, SIZE, count=3))
    assert min(r.fiber for r in rows) > 0.3, "its fake hue axis does not roll with the input"


def test_augmentation_views_are_the_groups_hue_shifts() -> None:
    from structured_ssl.methods import AugmentationSSL

    ssl = AugmentationSSL(group=Group("hue", order=4), encoder=EncoderSpec(), in_channels=3)
    x = probe_images(3, SIZE, count=3)
    for k in range(4):
        view = ssl.augment(x, torch.full((3, 1), k), None)
        assert torch.equal(view, ssl.encoder.transform_input(x, (k,))), k


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            {"order": 13},
            r"^group.order=13 is too large: a hue group here takes an order from 2 to 12$",
        ),
        ({"order": 1}, r"^group.order=1 is too small; a hue group needs order >= 2$"),
        (
            {"options": {"mixing_layers": 5}},
            r"^group.options.mixing_layers=5: expected an integer from 0 to 4",
        ),
        (
            {"options": {"mixing_layers": True}},
            r"^group.options.mixing_layers=True: expected an integer",
        ),
        (
            {"options": {"saturation": 1}},
            r"^group.options.saturation: the hue group accepts options: mixing_layers$",
        ),
    ],
)
def test_bad_hue_settings_get_one_line(group: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Group("hue", **group)


def test_grey_input_is_refused_before_the_build() -> None:
    from structured_ssl.methods import StructuredSSL

    with pytest.raises(
        ValueError, match=r"^data channels=1: group.kind='hue' shifts hue, which needs RGB"
    ):
        StructuredSSL(group=Group("hue", order=4), encoder=EncoderSpec(), in_channels=1)
