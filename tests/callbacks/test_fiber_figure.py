"""The fiber-similarity figure shows structure where there is some (issue 17's numbers)."""

from __future__ import annotations

import math

import torch

from structured_ssl.callbacks.fiber_figure import (
    colour_limit,
    fiber_similarity,
    grid_distances,
    similarity_by_distance,
    similarity_figure,
)
from structured_ssl.data import DigitsDataModule
from structured_ssl.encoders import build_encoder
from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group


def digits(n: int = 32) -> torch.Tensor:
    data = DigitsDataModule()
    data.setup()
    return data.dataset("val").tensors[0][:n]


def off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    return matrix[~torch.eye(len(matrix), dtype=torch.bool)]


def test_raw_similarity_is_flat_and_the_centred_one_is_not() -> None:
    """Issue 17: raw cosines of pooled C8 fibers are 0.98-1.00 between every two fibers, so a
    heat map on [-1, 1] is one flat square; centring leaves the fiber-to-fiber differences."""
    encoder = build_encoder(EncoderSpec(), Group("rotation", 8), 1, 21)
    x = digits()
    raw = off_diagonal(fiber_similarity(encoder, x, centred=False))
    centred = off_diagonal(fiber_similarity(encoder, x))
    assert raw.min() > 0.95 and raw.max() - raw.min() < 0.03
    assert centred.max() - centred.min() > 0.2
    # centred fibers of one image sum to zero: the mean off-diagonal cosine is about -1/(F-1)
    assert abs(float(centred.mean()) + 1 / 7) < 0.05


def test_translation_neighbours_are_more_similar_than_distant_cells() -> None:
    """Neighbouring spatial cells share receptive fields, so the centred similarity at distance
    1 is well above that at distance >= 2 (not monotone further out: the far corners of a
    zero-padded map are both mostly padding, hence alike)."""
    encoder = build_encoder(EncoderSpec(), Group("translation"), 1, 21)
    x = digits()
    matrix = fiber_similarity(encoder, x)
    shape = tuple(encoder.fiber_map(encoder(x[:1])).shape[2:])
    distances = grid_distances(shape, encoder.fiber_grid_cyclic())
    levels, means = similarity_by_distance(matrix, distances)
    assert levels[:2] == [0.0, 1.0] and abs(means[0] - 1.0) < 1e-5
    assert means[1] > float(matrix[distances >= 2].mean()) + 0.3


def test_grid_distances_are_the_samplers_topographic_distances() -> None:
    rotation = grid_distances((8,), cyclic=True)
    assert rotation[0, 7] == 1 and rotation[0, 4] == 4 and torch.equal(rotation, rotation.T)
    plane = grid_distances((3, 3), cyclic=False)
    assert math.isclose(float(plane[0, 8]), math.sqrt(8), rel_tol=1e-6)
    dihedral = grid_distances((2, 4), cyclic=True)  # flip axis of size 2, rotation axis of 4
    assert (
        dihedral[0, 4] == 1
        and dihedral[0, 3] == 1
        and math.isclose(float(dihedral[0, 6]), math.sqrt(5), rel_tol=1e-6)
    )


def test_colour_scale_adapts_to_off_diagonal_values() -> None:
    matrix = torch.tensor([[1.0, 0.02, -0.05], [0.02, 1.0, 0.01], [-0.05, 0.01, 1.0]])
    assert math.isclose(colour_limit(matrix), 0.05, rel_tol=1e-6)
    assert colour_limit(torch.eye(3)) == 1e-3


def test_figure_draws_heat_map_and_distance_curve() -> None:
    encoder = build_encoder(EncoderSpec(), Group("rotation", 8), 1, 21)
    x = digits(8)
    figure = similarity_figure(fiber_similarity(encoder, x), encoder, x[:1])
    heat, curve = figure.axes[:2]
    low, high = heat.images[0].get_clim()
    assert low == -high and high < 1.0, "the colour scale adapts (the diagonal 1 would wash it out)"
    assert len(curve.lines[0].get_xdata()) == 5, "C8: distances 0..4"
