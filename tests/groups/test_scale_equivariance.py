"""SESN-style scale convolutions (``encoder.scale_lifting: sesn``; the default input lift is
tested in test_scale_input_lift.py and, on every shipped config, in test_check.py): the basis
dilates, the layers are batched and correct, and the SESN encoders at the shipped
architectures, sizes and scales are equivariant where H-SSL reads them.

The bounds (issue 13), checked with ``structured_ssl.groups.scale.equivariance`` on the encoders,
image sizes and scales the configs ship (read from the YAML files), random init, eval mode,
images whose content stays away from the border, one and two scale steps: the fiber error
(space-pooled fibers, comparable scales) <= 0.10 and <= a quarter of the no-shift error. On
the paper's scales the measured worst over 3 seeds is 0.069 (ratio 0.19), on six geometric
scales over the same span 0.058 (ratio 0.19): ``benchmarks/scale_equivariance.py``.
A wrong claimed action (scale shift off by one, zoom in instead of out), a basis that no
longer dilates, or batch-norm shifts without the background subtraction all miss them.
"""

from __future__ import annotations

import copy
import math
import statistics
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from cli_args import cell_of, merged_yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import PAPER_SCALES, Group
from structured_ssl.groups.scale.action import ScaleAction, without_background
from structured_ssl.groups.scale.conv import (
    ScaleBatchNorm,
    ScaleConv,
    ScaleLift,
    ScaleMaxProjection,
    downscale,
    footprint_mask,
    hermite_basis,
    shift_scales,
)
from structured_ssl.groups.scale.equivariance import (
    FIBER_BOUND,
    GEOMETRIC_SPAN_SCALES,
    NO_SHIFT_FRACTION,
    centred_blobs,
    centred_digits,
    scale_errors,
)
from structured_ssl.groups.scale.layers import ScaleEncoder
from structured_ssl.lifted.base import LiftedEncoder

# ratios sqrt(2): zooming out by 2 moves the scale axis by exactly 2 indices
SCALES5 = tuple(2 ** (i / 2) for i in range(5))
SCALES4 = SCALES5[:4]
ROOT = Path(__file__).resolve().parents[2]
# (cell, overlay or None): every config family that trains a structured scale encoder
SHIPPED = [
    ("digits/structured_scale", None),
    ("mnist/structured_scale", None),
    ("paper/mnist/structured_scale", None),
    ("paper/mnist/structured_scale", "configs/paper/small.yaml"),
]


def shipped(cell: str, overlay: str | None) -> tuple[str, tuple[float, ...], int, int]:
    """(architecture, scales, image size, digit size) as the config (and overlay) set them."""
    config = merged_yaml(cell_of(cell))  # the composed cell's files (structured_ssl.config.cells)
    data = config["data"]
    model = config["model"]["init_args"]
    architecture = model.get("encoder", {}).get("architecture", "small")
    data_args = dict(data["init_args"])
    if overlay:
        extra = yaml.safe_load((ROOT / overlay).read_text())
        data_args.update(extra["data"]["init_args"])
        architecture = (
            extra["model"]["init_args"].get("encoder", {}).get("architecture", architecture)
        )
    size = int(data_args["image_size"])
    # digits: the configured digit size; MNIST: its 20-pixel digits in the padded frame
    return architecture, tuple(model["group"]["scales"]), size, int(data_args.get("digit_size", 20))


def shipped_encoder(
    cell: str,
    overlay: str | None,
    scales: tuple[float, ...] | None = None,
    seed: int = 0,
    structured: bool = True,
) -> tuple[LiftedEncoder, int, int]:
    architecture, shipped_scales, size, digit = shipped(cell, overlay)
    torch.manual_seed(seed)
    group = Group("scale", scales=scales or shipped_scales)
    spec = EncoderSpec(architecture=architecture, structured=structured, scale_lifting="sesn")
    return build_encoder(spec, group, 1, size), size, digit


def blobs(n: int, size: int, seed: int) -> torch.Tensor:
    return centred_blobs(n, size, seed)


def relative_error(net: nn.Module, enc: ScaleEncoder, x: torch.Tensor, g: tuple[int]) -> float:
    """|| f(T_g x) - Γ_g f(x) || / || Γ_g f(x) || on ``enc.comparable`` (``net`` may be
    a single layer judged with the encoder's action)."""
    with torch.no_grad():
        moved = enc.comparable(net(enc.transform_input(x, g)), g)
        expected = enc.comparable(enc.transform_output(net(x), g), g)
    return float((moved - expected).norm() / expected.norm())


def without_steerability(enc: LiftedEncoder, how: str) -> LiftedEncoder:
    """The same encoder (weights, shapes) with the basis no longer dilated across scales."""
    twin = copy.deepcopy(enc)
    for module in twin.modules():
        if isinstance(module, ScaleLift | ScaleConv):
            if how == "replicated":  # one kernel at every scale: a plain CNN, copied S times
                module.basis.copy_(module.basis[:, -1:].expand_as(module.basis))
            else:  # independent random kernels per scale
                module.basis.copy_(torch.randn_like(module.basis) / module.kernel_size)
    return twin


class OffByOne(ScaleAction):
    """The claimed action with the scale shift one step too far (a mutation the bounds must catch)."""

    def scale_map(self, g):  # type: ignore[override]
        return [(s, t + 1) for s, t in super().scale_map(g) if t + 1 < len(self.group.scales)]


class ZoomIn(ScaleAction):
    """The claimed action reversed: T_g zooms IN by the factor."""

    def transform_input(self, x, g):  # type: ignore[override]
        return downscale(x, 1 / self.zoom_factor(g))


# --------------------------------------------------------------------------- basis
def test_basis_shape_normalisation_and_finiteness() -> None:
    basis = hermite_basis(7, 5, PAPER_SCALES)
    assert basis.shape == (25, 6, 7, 7)
    torch.testing.assert_close(basis[:, 0].square().sum((-2, -1)), torch.ones(25))
    # 3x3 kernels: the smallest scale's window is one pixel, odd orders vanish there
    for k, e in [(3, 3), (1, 1), (11, 11)]:
        assert torch.isfinite(hermite_basis(k, e, PAPER_SCALES)).all()
    with pytest.raises(ValueError, match="odd"):
        hermite_basis(6, 3, PAPER_SCALES)


def test_basis_is_the_sesn_hermite_gaussian() -> None:
    """envelope=1 (SESN's width): psi_nm^s = He_n(y/s) He_m(x/s) exp(-(x^2+y^2)/(2 s^2)) / s^2,
    up to one constant; other envelopes are the same functions at width envelope * s."""
    basis = hermite_basis(9, 3, (1.5,), envelope=1.0)
    t = (torch.arange(9) - 4) / 1.5
    he = [torch.ones_like(t), t, t**2 - 1]
    for n in range(3):
        for m in range(3):
            psi = torch.outer(he[n], he[m]) * torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / 2)
            torch.testing.assert_close(basis[3 * n + m, 0], psi / psi.norm(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(hermite_basis(9, 3, (2.0,), envelope=0.75), basis)
    with pytest.raises(ValueError, match="envelope"):
        hermite_basis(9, 3, (1.5,), envelope=0.0)


def test_every_scale_uses_the_whole_kernel() -> None:
    """No per-scale window (SESN's odd-size cut does not dilate): even the smallest scale
    reaches the kernel's corner."""
    basis = hermite_basis(7, 2, PAPER_SCALES)
    assert (basis[0, :, 0, 0] > 0).all() and (basis[0, :, -1, -1] > 0).all()


def test_basis_at_scale_s_is_the_dilated_basis() -> None:
    basis = hermite_basis(31, 3, (1.0, 2.0))
    centre, u = 15, torch.arange(-7, 8)
    small = basis[:, 0][:, centre + u][:, :, centre + u]
    dilated = basis[:, 1][:, centre + 2 * u][:, :, centre + 2 * u] * 4  # amplitude 1 / s^2
    torch.testing.assert_close(dilated, small, rtol=1e-4, atol=1e-6)


def test_basis_is_a_buffer_computed_once() -> None:
    lift = ScaleLift(1, 4, 7, 3, PAPER_SCALES, padding=3)
    assert "basis" in dict(lift.named_buffers()) and "basis" in lift.state_dict()
    assert all(p is not lift.basis for p in lift.parameters())
    pointer = lift.basis.data_ptr()
    lift(torch.randn(2, 1, 9, 9)).sum().backward()
    assert lift.basis.data_ptr() == pointer and lift.basis.grad is None


# --------------------------------------------------------------------------- layers
def test_lift_is_one_conv_per_scale() -> None:
    lift = ScaleLift(2, 3, 5, 3, PAPER_SCALES, stride=2, padding=2, bias=True)
    nn.init.normal_(lift.bias)
    x = torch.randn(2, 2, 11, 11)
    y = lift(x)
    assert y.shape == (2, 3, 6, 6, 6)
    for s in range(6):
        kernel = torch.einsum("oif,fkl->oikl", lift.weight, lift.basis[:, s])
        torch.testing.assert_close(
            y[:, :, s], F.conv2d(x, kernel, lift.bias, stride=2, padding=2), atol=1e-5, rtol=1e-4
        )


@pytest.mark.parametrize("scale_size", [1, 2, 3])
def test_scale_conv_matches_a_per_scale_reference(scale_size: int) -> None:
    conv = ScaleConv(3, 4, 5, 3, SCALES4, scale_size=scale_size, stride=2, padding=2)
    z = torch.randn(2, 3, 4, 9, 9)
    y = conv(z)
    assert y.shape == (2, 4, 4, 5, 5)
    for s in range(4):
        expected = 0
        for i in range(scale_size):
            if s + i < 4:  # zeros beyond the last scale
                kernel = torch.einsum("oif,fkl->oikl", conv.weight[:, :, i], conv.basis[:, s])
                expected = expected + F.conv2d(z[:, :, s + i], kernel, stride=2, padding=2)
        torch.testing.assert_close(y[:, :, s], expected, atol=1e-5, rtol=1e-4)


def test_one_by_one_scale_conv_is_the_same_conv_at_every_scale() -> None:
    conv = ScaleConv(3, 4, 1, 1, PAPER_SCALES, stride=2)
    z = torch.randn(2, 3, 1, 5, 5).expand(2, 3, 6, 5, 5)
    y = conv(z)
    torch.testing.assert_close(y, y[:, :, :1].expand_as(y))
    with pytest.raises(ValueError, match="single basis function"):
        hermite_basis(1, 3, PAPER_SCALES)


def test_scale_conv_arguments_after_scales_are_keywords() -> None:
    with pytest.raises(TypeError):
        ScaleConv(3, 4, 5, 3, SCALES4, 2, 2)  # type: ignore[misc]
    with pytest.raises(ValueError, match="scale_size"):
        ScaleConv(3, 4, 5, 3, SCALES4, scale_size=5)


def test_max_projection_and_shift() -> None:
    z = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 4, 3, 1).expand(1, 2, 4, 3, 2)
    assert ScaleMaxProjection()(z).shape == (1, 2, 3, 2)
    shifted = shift_scales(z, 1)
    torch.testing.assert_close(shifted[:, :, :3], z[:, :, 1:])
    assert (shifted[:, :, 3] == 0).all()


def test_downscale_shrinks_about_the_centre() -> None:
    size, centre = 41, 20.0
    yy, xx = torch.meshgrid(torch.arange(size) - centre, torch.arange(size) - centre, indexing="ij")
    blob = torch.exp(-((yy - 6) ** 2 + (xx + 4) ** 2) / (2 * 4.0**2)).view(1, 1, size, size)
    small = downscale(blob, 2.0)
    mass = small.sum()
    assert abs(float((small[0, 0] * yy).sum() / mass) - 3.0) < 0.05
    assert abs(float((small[0, 0] * xx).sum() / mass) + 2.0) < 0.05
    assert abs(float(mass / blob.sum()) - 0.25) < 0.01  # area / 4
    torch.testing.assert_close(downscale(blob, 1.0), blob)
    mask = footprint_mask((6, 6), 2.0)
    assert mask.sum() == 4 and mask[2:4, 2:4].all()


# --------------------------------------------------------------------------- equivariance
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), j=st.sampled_from([1, 2]))
def test_lifting_layer_is_scale_equivariant(seed: int, j: int) -> None:
    torch.manual_seed(seed % 1000)
    lift = ScaleLift(1, 8, kernel_size=31, effective_size=3, scales=SCALES5, padding=15)
    action = ScaleEncoder(1, Group("scale", scales=SCALES5))  # its T_g, Γ_g, comparable
    assert relative_error(lift, action, blobs(2, 49, seed), (j,)) < 0.02


def test_scale_map_on_paper_and_geometric_scales() -> None:
    """Γ_j moves scale s' = the scale a_j times s, where the grid has one (0.5% tolerance)."""
    paper = ScaleAction(Group("scale", scales=PAPER_SCALES))
    assert paper.scale_map((1,)) == [(0, 1), (2, 4)]  # 1.25: 1 -> 1.25, 1.33 -> 1.66
    assert paper.scale_map((2,)) == [(0, 2), (1, 4)]  # 1.33: 1 -> 1.33, 1.25 -> 1.66
    assert paper.scale_map((5,)) == [(0, 5)]
    geometric = ScaleAction(Group("scale", scales=GEOMETRIC_SPAN_SCALES))
    assert geometric.scale_map((2,)) == [(s, s + 2) for s in range(4)]
    assert ScaleAction(Group("scale", scales=PAPER_SCALES), uniform_shift=True).scale_map((1,)) == [
        (s, s + 1) for s in range(5)
    ]
    assert ScaleAction(Group("scale", scales=GEOMETRIC_SPAN_SCALES), reach=2).scale_map((1,)) == [
        (s, s + 1) for s in range(3)
    ]
    z = torch.randn(2, 3, 6, 9, 9)
    moved = paper.transform_output(z, (1,))
    assert (moved[:, :, [1, 3, 4, 5]] == 0).all()
    torch.testing.assert_close(moved[:, :, 2], downscale(z[:, :, 4], 1.25))
    assert paper.comparable(z, (1,)).shape == (2, 3, 2, 9, 9)


def test_pooled_fibers_are_area_normalised() -> None:
    """A zoom-out by a divides a map's space-sum by a^2; the fiber at scale s carries
    (scales[0] / scales[s])^2, so fiber j of a map equals fiber 0 of the map zoomed out."""
    action = ScaleAction(Group("scale", scales=GEOMETRIC_SPAN_SCALES))
    z = torch.zeros(1, 1, 6, 41, 41)
    z[..., 10:31, 10:31] = blobs(1, 21, 3).abs()[0, 0]
    zoomed = downscale(z[:, :, 2], action.zoom_factor((2,)))
    fibers = action.pool(z)
    assert (
        abs(float(action.pool(zoomed.unsqueeze(2).expand_as(z))[0, 0, 0] / fibers[0, 0, 2]) - 1)
        < 0.01
    )
    assert ScaleEncoder(1, action.group).fiber_map(z).shape == (1, 1, 6)
    torch.testing.assert_close(ScaleEncoder(1, action.group).fiber_map(z), fibers)


@pytest.mark.parametrize("cell,overlay", SHIPPED)
@pytest.mark.parametrize("scales", ["shipped", "geometric"])
def test_shipped_encoders_meet_the_fiber_bounds(
    cell: str, overlay: str | None, scales: str
) -> None:
    """Issue 13's bound on the encoder each config builds, one and two scale steps, digits and
    smooth blobs: over 4 random inits the MEDIAN fiber error is <= 0.10 and <= 1/4 of the
    no-shift error, and no init is off by more than 1.5x. (The worst case is a property of
    the init: over 10 seeds `small` on 21 px misses the quarter in 1-2 of 20 draws per
    setting, worst 0.27; ``paper_mnist`` never does. docs/concepts/bounds.md, "Scale equivariance".)"""
    geometric = GEOMETRIC_SPAN_SCALES if scales == "geometric" else None
    encoders = [shipped_encoder(cell, overlay, geometric, seed) for seed in range(4)]
    size, digit = encoders[0][1], encoders[0][2]
    for x in (centred_digits(8, size, digit), blobs(8, size, 0)):
        for j in (1, 2):
            errors = [scale_errors(enc, x, (j,)) for enc, _, _ in encoders]
            fiber = statistics.median(e.fiber for e in errors)
            ratio = statistics.median(e.ratio for e in errors)
            assert fiber <= FIBER_BOUND and ratio <= NO_SHIFT_FRACTION, (
                cell,
                overlay,
                scales,
                j,
                errors,
            )
            assert all(
                e.within_bounds(1.5 * FIBER_BOUND, 1.5 * NO_SHIFT_FRACTION) for e in errors
            ), errors
            assert all(e.no_shift > 0.1 for e in errors), errors  # the zoom does move the fibers


@pytest.mark.parametrize("cell,overlay", SHIPPED[::2])
def test_a_wrong_claimed_action_misses_the_bounds(cell: str, overlay: str | None) -> None:
    """The bounds are not loose: claiming a shift one step too far, or judging a zoom IN,
    misses them on the same encoders and images."""
    enc, size, digit = shipped_encoder(cell, overlay)
    x = centred_digits(8, size, digit)
    for j in (1, 2):
        right = scale_errors(enc, x, (j,)).fiber
        for wrong in (OffByOne(enc.group), ZoomIn(enc.group)):
            errors = scale_errors(enc, x, (j,), action=wrong)
            assert errors.fiber > 1.5 * right and not errors.within_bounds(), (
                type(wrong).__name__,
                j,
                errors,
                right,
            )


def test_without_steerability_the_bounds_fail() -> None:
    enc, size, digit = shipped_encoder(*SHIPPED[0])
    x = centred_digits(8, size, digit)
    ours = scale_errors(enc, x, (2,)).fiber
    for how in ("replicated", "random"):
        theirs = scale_errors(without_steerability(enc, how), x, (2,), action=enc.action)
        assert theirs.fiber > 2 * ours and not theirs.within_bounds(), (how, theirs, ours)


@pytest.mark.parametrize("cell,overlay", SHIPPED[1:3])
def test_bounds_hold_after_batch_norm_has_moved(cell: str, overlay: str | None) -> None:
    """Training moves batch norm (shift, running statistics): empty canvas then has a
    response, which a zoom-out grows. The encoders subtract it (f(x) - f(0)); without
    that this test fails (0.55-0.75 for `small` on 21 px, benchmarks/scale_design_sweep.py);
    with it, the error stays within 1.5x the init bound (a trained net's per-channel BN gains still
    reweight the scales' errors)."""
    enc, size, digit = shipped_encoder(cell, overlay)
    generator = torch.Generator().manual_seed(0)
    for module in enc.modules():
        if isinstance(module, nn.BatchNorm3d):
            n = module.num_features
            module.bias.data = torch.randn(n, generator=generator) * 0.3
            module.weight.data = 0.7 + 0.6 * torch.rand(n, generator=generator)
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
            module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))
    x = centred_digits(8, size, digit)
    for j in (1, 2):
        errors = scale_errors(enc, x, (j,))
        assert errors.within_bounds(1.5 * FIBER_BOUND, 1.5 * NO_SHIFT_FRACTION), (j, errors)
    assert enc.eval()(torch.zeros(1, 1, size, size)).abs().max() == 0


def test_without_background_subtracts_the_empty_image_in_the_same_batch() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU())
    x = torch.randn(4, 1, 5, 5)
    out = without_background(net.train(), x)
    both = net(torch.cat([x, torch.zeros(1, 1, 5, 5)]))
    torch.testing.assert_close(out, both[:4] - both[4:])


def test_uniform_shift_on_the_paper_scales_is_what_they_cost() -> None:
    """The old claim (every scale shifted by j) is exact only on a geometric grid: on the
    paper's scales it is worse than the exact action, on geometric scales the same."""
    for scales, worse in ((PAPER_SCALES, True), (GEOMETRIC_SPAN_SCALES, False)):
        enc, size, digit = shipped_encoder(*SHIPPED[0], scales=scales)
        x = centred_digits(8, size, digit)
        exact = scale_errors(enc, x, (1,)).fiber
        uniform = scale_errors(
            enc, x, (1,), action=ScaleAction(enc.group, uniform_shift=True)
        ).fiber
        assert (uniform > 2 * exact) if worse else math.isclose(uniform, exact, rel_tol=1e-5), (
            scales,
            exact,
            uniform,
        )


def test_twin_claiming_the_scale_action_is_not_equivariant() -> None:
    enc, size, digit = shipped_encoder(*SHIPPED[0], structured=False)
    errors = scale_errors(enc, centred_digits(8, size, digit), (1,))
    assert errors.fiber > 0.5 and errors.ratio > 1, errors


def test_encoder_mixing_neighbouring_scales_stays_equivariant() -> None:
    """scale_size=2 on a geometric grid: the top scale of each ScaleConv sees padding, so
    Γ_g drops one more scale per ScaleConv."""
    torch.manual_seed(0)
    enc = ScaleEncoder(1, Group("scale", scales=GEOMETRIC_SPAN_SCALES), scale_size=2).eval()
    x = centred_digits(8, 21, 14)
    assert enc.comparable(enc(x), (1,)).shape[2] == 3  # 6 - 1 - (2 - 1) * 2 layers
    errors = scale_errors(enc, x, (1,))
    assert errors.within_bounds(), errors


# --------------------------------------------------------------------------- plumbing
def test_scale_batchnorm_is_shared_across_scales_and_converts_to_sync() -> None:
    bn = ScaleBatchNorm(4)
    z = torch.randn(8, 4, 6, 5, 5) * 3 + 1
    out = bn(z)
    torch.testing.assert_close(out.mean((0, 2, 3, 4)), torch.zeros(4), atol=1e-5, rtol=0)
    enc = ScaleEncoder(1, Group("scale"))
    enc.net[1].running_mean.fill_(0.5)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(enc)
    syncs = [m for m in converted.modules() if isinstance(m, nn.SyncBatchNorm)]
    assert len(syncs) == 3 and not any(isinstance(m, ScaleBatchNorm) for m in converted.modules())
    assert (syncs[0].running_mean == 0.5).all()
    assert converted.eval()(torch.randn(2, 1, 21, 21)).shape == (2, 64, 6, 6, 6)


def test_encoder_shapes_and_gradients() -> None:
    enc = ScaleEncoder(1, Group("scale"))
    assert enc.out_channels == 64 and enc.group.size == 6
    z = enc(torch.randn(4, 1, 21, 21))
    assert z.shape == (4, 64, 6, 6, 6)
    z.square().mean().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert enc.invariant(z).shape == (4, 64) and enc.fiber_map(z).shape == (4, 64, 6)
    with pytest.raises(ValueError, match="scale"):
        ScaleEncoder(1, Group("rotation", 4))


def test_layers_build_the_paper_mnist_network() -> None:
    """PAPER.md: channels (32, 64, 128), kernels (11, 7, 7), effective (11, 3, 3), strides
    (1, 2, 2), padding (5, 3, 3), no bias: 29x29 -> 29 -> 15 -> 8."""
    net = nn.Sequential(
        ScaleLift(1, 32, 11, 11, PAPER_SCALES, stride=1, padding=5),
        ScaleBatchNorm(32),
        nn.ReLU(),
        ScaleConv(32, 64, 7, 3, PAPER_SCALES, stride=2, padding=3),
        ScaleBatchNorm(64),
        nn.ReLU(),
        ScaleConv(64, 128, 7, 3, PAPER_SCALES, stride=2, padding=3),
        ScaleBatchNorm(128),
        nn.ReLU(),
    )
    assert net(torch.randn(2, 1, 29, 29)).shape == (2, 128, 6, 8, 8)
    expected = 32 * 121 + 64 * 32 * 9 + 128 * 64 * 9 + 2 * (32 + 64 + 128)
    assert sum(p.numel() for p in net.parameters()) == expected
    assert math.isclose(net[0].basis.shape[0], 121)
