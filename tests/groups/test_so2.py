"""SO(2): fibers read at any angle move with the input's rotation (escnn band-limited fields)."""

from __future__ import annotations

import math

import pytest
import torch

from structured_ssl.groups.so2.layers import (
    SO2Encoder,
    interpolation_error,
    inverse_rotation_matrices,
    readout_weights,
    rotate_images,
    smooth_probe_images,
)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).mean())


@pytest.fixture(scope="module")
def encoder() -> SO2Encoder:
    torch.manual_seed(0)
    return SO2Encoder(1, None, max_frequency=3).eval()


def test_readout_is_the_fourier_series_of_escnns_representation(encoder) -> None:
    """r(θ) = w^T ρ(θ)^{-1} with ρ escnn's own representation of the output fields."""
    rep = encoder.out_type.representations[0]
    theta = torch.tensor([0.0, 0.4, 2.0, -1.1], dtype=torch.float64)
    w = readout_weights(torch.zeros(1, dtype=torch.float64), encoder.max_frequency)[0]
    for i, t in enumerate(theta):
        escnn_inverse = torch.from_numpy(
            rep(encoder.gspace.fibergroup.element(float(t))).T.copy()
        )  # orthogonal
        torch.testing.assert_close(readout_weights(theta, 3)[i], w @ escnn_inverse)
        torch.testing.assert_close(inverse_rotation_matrices(theta, 3)[i], escnn_inverse)


@pytest.mark.parametrize("phi", [math.pi / 2, math.pi, 3 * math.pi / 2])
def test_quarter_turns_move_fibers_exactly(encoder, phi) -> None:
    x = torch.rand(6, 1, 21, 21)
    theta = torch.rand(6) * 2 * math.pi
    with torch.no_grad():
        z, moved = encoder(x), encoder(rotate_images(x, phi))
    assert relative(encoder.fibers_at(moved, theta + phi), encoder.fibers_at(z, theta)) < 1e-5
    torch.testing.assert_close(moved, encoder.transform_output(z, (phi,)), atol=1e-5, rtol=1e-4)


def test_quarter_turn_reading_at_theta_minus_phi_is_wrong(encoder) -> None:
    """The reading direction matters: at θ - φ the fibers do not match (detects a sign error)."""
    x = torch.rand(6, 1, 21, 21)
    theta = torch.rand(6) * 2 * math.pi
    with torch.no_grad():
        z, moved = encoder(x), encoder(rotate_images(x, math.pi / 2))
    assert (
        relative(encoder.fibers_at(moved, theta - math.pi / 2), encoder.fibers_at(z, theta)) > 1e-2
    )


@pytest.mark.parametrize("phi", [0.3, 1.0, 2.5])
def test_arbitrary_angles_err_by_the_input_interpolation_only(encoder, phi) -> None:
    """At angles between quarter turns the fiber error is about what bilinear rotation loses on
    the input (rotate and back), far below reading at θ - φ or not moving at all."""
    x = smooth_probe_images(8, 29)
    theta = torch.rand(8, generator=torch.Generator().manual_seed(1)) * 2 * math.pi
    with torch.no_grad():
        z, moved = encoder(x), encoder(rotate_images(x, phi))
    expected = encoder.fibers_at(z, theta)
    error = relative(encoder.fibers_at(moved, theta + phi), expected)
    wrong = relative(encoder.fibers_at(moved, theta - phi), expected)
    assert error < 0.05
    assert error < 2 * interpolation_error(x, phi)
    assert error < 0.6 * wrong


def test_invariant_embedding_is_rotation_invariant(encoder) -> None:
    x = torch.rand(4, 1, 21, 21)
    with torch.no_grad():
        a, b = (
            encoder.invariant(encoder(x)),
            encoder.invariant(encoder(rotate_images(x, math.pi / 2))),
        )
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def so2_plugin_elements(group):
    return group.plugin.checked_elements() + group.plugin.probe_only_elements()


def test_bound_holds_on_its_probe_and_catches_a_wrong_action() -> None:
    """What ``check`` measures: quarter turns exact, other angles within the interpolation bound;
    an encoder whose claimed Γ_φ turns the other way misses it at the quarter turns."""
    from structured_ssl.encoders.equivariance import measure
    from structured_ssl.groups import Group
    from structured_ssl.groups.kit import SmallLayout

    group = Group("so2")
    torch.manual_seed(0)
    encoder = group.plugin.build_small(
        SmallLayout(1, (8, 16, 32), (5, 3, 3), (1, 2, 2)), "zeros"
    ).eval()
    x = group.plugin.probe_images(1, 21, 8, 0)
    bound = encoder.equivariance_bound()
    rows = measure(encoder, x, so2_plugin_elements(group))
    assert all(r.within(bound) for r in rows), [(r.element, r.fiber) for r in rows]
    assert max(r.fiber for r in rows[:3]) < 1e-5 < min(r.fiber for r in rows[3:])

    class TurnsTheOtherWay(SO2Encoder):
        def transform_output(self, z, g):
            return super().transform_output(z, (-g[0],))

    wrong = TurnsTheOtherWay(1, group).eval()
    wrong.load_state_dict(encoder.state_dict())
    missed = [
        r.element for r in measure(wrong, x, so2_plugin_elements(group)) if not r.within(bound)
    ]
    assert (math.pi / 2,) in missed and (3 * math.pi / 2,) in missed


def test_structured_views_draw_continuous_angles_within_the_distance() -> None:
    from structured_ssl.groups import Group
    from structured_ssl.groups.so2.pairs import circular_distance
    from structured_ssl.methods import StructuredSSL
    from structured_ssl.ssl.pairs import PairSampling

    model = StructuredSSL(group=Group("so2"), image_size=21, pairs=PairSampling(max_distance=0.5))
    views = model.make_views(torch.zeros(512, 1, 21, 21))
    distance = circular_distance(views.first, views.second)
    assert float(distance.max()) <= 0.5 + 1e-5 and float(distance.min()) > 0
    assert float(distance.mean()) == pytest.approx(0.25, abs=0.03)  # uniform on [0, 0.5]
    assert len(torch.unique(views.first)) == 512, "continuous: no two examples share an angle"


def test_bad_so2_settings_name_the_field() -> None:
    from structured_ssl.groups import Group

    with pytest.raises(ValueError, match=r"group\.options\.grid_samples=6"):
        Group("so2", options={"grid_samples": 6})
    with pytest.raises(ValueError, match=r"group\.options\.max_frequency=0"):
        Group("so2", options={"max_frequency": 0})
    with pytest.raises(ValueError, match=r"group\.options\.band"):
        Group("so2", options={"band": 2})
