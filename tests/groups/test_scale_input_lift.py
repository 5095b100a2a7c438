"""The paper ResNets' scale encoder lifts its INPUT (``groups/scale/pyramid.py``): scale s of
the lifted map is one plain ResNet on the image zoomed out to scale s. These tests pin what
that buys: the scale bound on the 20-layer ResNet at init AND with weights moved far from
init (training cannot break it), the layout of the lifted map, and that the two wrong claims
(maps zoomed like SESN's, or SESN layers at this depth) miss the bound."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import PAPER_SCALES, Group
from structured_ssl.groups.scale.action import ScaleAction
from structured_ssl.groups.scale.conv import downscale
from structured_ssl.groups.scale.equivariance import GEOMETRIC_SPAN_SCALES
from structured_ssl.groups.scale.pyramid import InputLiftedScaleEncoder
from structured_ssl.lifted.bounds import SCALE
from structured_ssl.lifted.probes import probe_images

SIZE = 33  # CIFAR-10's configured canvas


def resnet_scale_encoder(scales=PAPER_SCALES, **spec) -> InputLiftedScaleEncoder:
    torch.manual_seed(0)
    return build_encoder(
        EncoderSpec(architecture="paper_cifar", **spec), Group("scale", scales=scales), 3, SIZE
    )


def worst(encoder, x) -> tuple[float, float]:
    rows = measure(encoder, x)
    return max(r.fiber for r in rows), max(r.fiber / r.baseline for r in rows)


def move_weights_far_from_init(encoder: nn.Module, seed: int = 1) -> None:
    """What training could do: every conv weight redrawn at twice the init spread, batch-norm
    gains and statistics spread out (shifts kept small: a shared constant makes every fiber
    alike and the relative errors meaningless)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.mul_(2.0).add_(
                    torch.randn(module.weight.shape, generator=generator) * module.weight.std()
                )
            if isinstance(module, nn.BatchNorm3d | nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.05 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))


@pytest.mark.parametrize(
    "scales", [PAPER_SCALES, GEOMETRIC_SPAN_SCALES], ids=["paper", "geometric"]
)
def test_resnet_scale_encoder_meets_the_scale_bound(scales) -> None:
    encoder = resnet_scale_encoder(scales)
    assert isinstance(encoder, InputLiftedScaleEncoder) and encoder.equivariance_bound() is SCALE
    x = probe_images(3, SIZE, count=4)
    fiber, ratio = worst(encoder, x)
    assert SCALE.holds(fiber, fiber / ratio), (fiber, ratio)
    # the lifted map too: Γ moves scales without zooming the map (measured 0.055-0.085)
    assert max(r.lifted for r in measure(encoder, x)) < 0.15


def test_bound_holds_with_weights_far_from_init() -> None:
    encoder = resnet_scale_encoder()
    move_weights_far_from_init(encoder)
    fiber, ratio = worst(encoder, probe_images(3, SIZE, count=4))
    assert SCALE.holds(fiber, fiber / ratio), (fiber, ratio)


def test_scale_s_is_the_network_on_the_image_zoomed_to_s() -> None:
    encoder = resnet_scale_encoder().eval()
    x = probe_images(3, SIZE, count=3)
    with torch.no_grad():
        z = encoder(x)
        for s, value in enumerate(PAPER_SCALES):
            direct = encoder.net(downscale(x, value))[:, :, 0]
            torch.testing.assert_close(z[:, :, s], direct, atol=1e-5, rtol=1e-4)
    assert z.shape[:3] == (3, encoder.out_channels, len(PAPER_SCALES))
    torch.testing.assert_close(
        encoder.fiber_map(z), z.mean(dim=(-2, -1))
    )  # matched scales: no area factor


def test_claiming_sesn_style_zoomed_maps_misses_the_bound() -> None:
    encoder = resnet_scale_encoder()
    encoder.action = ScaleAction(encoder.group, maps_zoom=True)  # Γ zooms the map as SESN's would
    fiber, ratio = worst(encoder, probe_images(3, SIZE, count=4))
    assert not SCALE.holds(fiber, fiber / ratio), (fiber, ratio)


def test_sesn_layers_at_resnet_depth_miss_the_bound() -> None:
    """The option kept for comparison, and the reason it is not the default."""
    encoder = resnet_scale_encoder(scale_lifting="sesn")
    assert not isinstance(encoder, InputLiftedScaleEncoder)
    fiber, ratio = worst(encoder, probe_images(3, SIZE, count=4))
    assert not SCALE.holds(fiber, fiber / ratio) and ratio > 1, (fiber, ratio)


def test_twin_claims_the_input_lift_action_and_breaks_it() -> None:
    twin = resnet_scale_encoder(structured=False)
    assert twin.action.maps_zoom is False and twin.equivariance_bound() is None
    fiber, ratio = worst(twin, probe_images(3, SIZE, count=4))
    assert not SCALE.holds(fiber, fiber / ratio), (fiber, ratio)


def test_bad_scale_lifting_is_one_line() -> None:
    with pytest.raises(
        ValueError, match=r"encoder.scale_lifting='pyramid'; expected one of \['input', 'sesn'\]"
    ):
        resnet_scale_encoder(scale_lifting="pyramid")


@pytest.mark.parametrize("architecture,size", [("small", 21), ("paper_mnist", 29)])
def test_the_input_lift_option_of_the_small_encoders_holds_with_moved_weights(
    architecture: str, size: int
) -> None:
    """``scale_lifting: input`` on the 3-layer encoders: the bound with weights far from init
    (a 6-epoch digits H-SSL checkpoint measured 0.044 / 0.065 with it, 0.16 / 0.20 with SESN
    layers: docs/results/scale_trained_drift.md)."""
    torch.manual_seed(0)
    encoder = build_encoder(
        EncoderSpec(architecture=architecture, scale_lifting="input"), Group("scale"), 1, size
    )
    assert isinstance(encoder, InputLiftedScaleEncoder)
    move_weights_far_from_init(encoder)
    fiber, ratio = worst(encoder, probe_images(1, size, count=8))
    assert SCALE.holds(fiber, fiber / ratio), (fiber, ratio)
