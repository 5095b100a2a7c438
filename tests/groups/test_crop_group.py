"""Crop as structure (scale x translation) and hue x crop: A-SSL's views are exactly T_g,
the lift keeps its measured bound where Γ_g is defined (whole-cell shifts exact at the
crop's own scale, zooms within interpolation), and hue composes with it as a direct product.
"""

from __future__ import annotations

import pytest
import torch

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.groups.crop.action import CropAction, crop_resize

SIZE = 21
SCALES = (1.0, 1.1892, 1.4142, 1.6818)


def crop_group() -> Group:
    return Group("crop", scales=SCALES)


def hue_crop_group() -> Group:
    return Group("hue_crop", order=3, scales=SCALES[:3])


def trained_like(encoder: torch.nn.Module) -> torch.nn.Module:
    """Batch-norm statistics moved by a training-mode pass (background responses are no longer 0)."""
    encoder.train()(torch.rand(8, encoder_channels(encoder), SIZE, SIZE))
    return encoder


def encoder_channels(encoder: torch.nn.Module) -> int:
    first = next(m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d))
    return int(first.in_channels)


def test_a_crop_is_the_window_resized_to_the_canvas() -> None:
    """Zoom 2 about the centre + (4, 0) px: output pixel y reads x at c + t + (y - c) / 2."""
    x = torch.zeros(1, 1, SIZE, SIZE)
    x[0, 0, 10, 14] = 1.0  # the window's centre: c + t with c = 10, t = (0, 4) (row, col)
    out = crop_resize(x, torch.tensor([2.0]), torch.tensor([[4.0, 0.0]]))
    assert out[0, 0, 10, 10] == pytest.approx(1.0, abs=1e-5), "the window's centre lands on c"


@pytest.mark.parametrize("group", [crop_group(), hue_crop_group()], ids=["crop", "hue_crop"])
def test_the_lift_keeps_its_bound_where_the_action_is_defined(group: Group) -> None:
    channels = 3
    torch.manual_seed(0)
    encoder = trained_like(build_encoder(EncoderSpec(), group, channels, SIZE))
    rows = measure(encoder, group.plugin.probe_images(channels, SIZE, count=4))
    bound = encoder.equivariance_bound()
    assert rows and all(row.within(bound) for row in rows), [
        (r.element, r.fiber, r.baseline) for r in rows
    ]
    shifts = [r for r in rows if r.element[-3] == 0]  # zoom 0: whole-cell shifts only
    assert shifts and max(r.fiber for r in shifts) < 0.02, "a shift by whole cells is a roll"


def test_fractional_shifts_are_left_out_of_the_action() -> None:
    """At a scale where a one-cell crop shift is 0.84 cells the action is not claimed; when it
    is (bilinear), the error is far larger: why Γ_g is defined on whole cells only."""
    action = CropAction(crop_group(), 4)
    assert [t for _, t in action.scale_pairs((1, 0, 1))] == [1], "a shifted crop: its own scale"
    assert [t for _, t in action.scale_pairs((1, 0, 0))] == [1, 2, 3], "a pure zoom: every match"
    torch.manual_seed(0)
    encoder = build_encoder(EncoderSpec(), crop_group(), 1, SIZE)
    probes = crop_group().plugin.probe_images(1, SIZE, count=4)
    exact = measure(encoder, probes, [(0, 0, 1)])[0].fiber
    encoder.action.whole_cells_only = False
    interpolated = measure(encoder, probes, [(0, 0, 1)])[0].fiber
    assert interpolated > 10 * exact and interpolated > 0.1


@pytest.mark.parametrize(
    ("group", "elements"),
    [
        (crop_group(), [((2, 2, 1), (2, 1, 0)), ((1, 0, 2), (1, -1, 1)), ((3, 1, 1), (3, 0, 0))]),
        (hue_crop_group(), [((2, 1, 0, 1), (2, 1, -1, 0)), ((1, 2, 1, 1), (1, 2, 0, 0))]),
    ],
    ids=["crop", "hue_crop"],
)
def test_augmentation_views_are_the_groups_crops(group: Group, elements: list) -> None:
    """A-SSL's view for a grid element is the encoder's T_g of that element (shift index - M)."""
    from structured_ssl.methods import AugmentationSSL

    ssl = AugmentationSSL(group=group, encoder=EncoderSpec(), in_channels=3, image_size=SIZE)
    x = group.plugin.probe_images(3, SIZE, count=2)
    for grid_element, g in elements:
        view = ssl.augment(x, torch.tensor([grid_element] * 2), None)
        assert torch.allclose(view, ssl.encoder.transform_input(x, g), atol=1e-5), g
        assert not torch.allclose(view, x, atol=1e-2)


def test_hue_and_crop_commute_so_the_product_is_direct() -> None:
    from structured_ssl.groups.hue.colour import hue_rotate

    action = CropAction(crop_group(), 4)
    x = torch.rand(2, 3, SIZE, SIZE)
    crop_then_hue = hue_rotate(action.transform_input(x, (2, 1, -1)), 1, 3)
    hue_then_crop = action.transform_input(hue_rotate(x, 1, 3), (2, 1, -1))
    assert torch.allclose(crop_then_hue, hue_then_crop, atol=1e-5)


def test_the_product_grid_and_its_twin() -> None:
    group = hue_crop_group()
    assert (group.size, group.short_name) == (9, "H3xS3xT")
    structured = build_encoder(EncoderSpec(), group, 3, SIZE)
    twin = build_encoder(EncoderSpec(structured=False), group, 3, SIZE)
    x = torch.rand(2, 3, SIZE, SIZE)
    for encoder in (structured, twin):
        z = encoder.eval()(x)
        assert tuple(encoder.fiber_map(z).shape[2:]) == group.plugin.fiber_grid_shape(z.shape[-1])
    assert (crop_group().size, crop_group().short_name) == (4, "S4xT")


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        (
            "crop",
            {"scales": (1.0,)},
            r"^group.scales=\[1.0\] must list at least 2 positive, increasing scales",
        ),
        (
            "crop",
            {"scales": (1.5, 1.0)},
            r"^group.scales=\[1.5, 1.0\] must list at least 2 positive",
        ),
        (
            "hue_crop",
            {"order": 9},
            r"^group.order=9 is too large: a hue_crop group here takes an order from 2 to 8$",
        ),
        (
            "hue_crop",
            {"options": {"mixing_layers": -1}},
            r"^group.options.mixing_layers=-1: expected an integer",
        ),
    ],
)
def test_bad_crop_settings_get_one_line(kind: str, settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Group(kind, **settings)


def test_crop_is_built_for_the_small_encoder_only() -> None:
    with pytest.raises(
        ValueError, match=r"^group.kind='crop' is built for encoder.architecture='small' only$"
    ):
        build_encoder(EncoderSpec(architecture="paper_cifar"), crop_group(), 3, 33)


def test_grey_input_is_refused_for_hue_x_crop() -> None:
    from structured_ssl.methods import StructuredSSL

    with pytest.raises(ValueError, match=r"^data channels=1: group.kind='hue_crop' shifts hue"):
        StructuredSSL(group=hue_crop_group(), encoder=EncoderSpec(), in_channels=1)
