"""The fiber-similarity picture: which fibers of one lifted map resemble which.

Structured SSL pulls fibers at sampled topographic distances together, so the question a
reader asks of a trained encoder is "does similarity fall with distance on the group's index
grid?". Raw cosines cannot answer it: the fibers of a ReLU network share a large non-negative
component, so every pair scores 0.98-1.00 and the heat map is one flat square. These
functions centre each image's fibers first, scale colours to the off-diagonal values, and
report the mean similarity per distance. Drawn by
:class:`~structured_ssl.callbacks.fiber_monitor.FiberSimilarityFigure`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from structured_ssl.lifted.contract import EquivariantEncoder
from structured_ssl.lifted.modes import eval_mode
from structured_ssl.ssl.pairs import FiberGrid

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # matplotlib is imported only to draw


def fiber_similarity(
    encoder: EquivariantEncoder, x: torch.Tensor, centred: bool = True
) -> torch.Tensor:
    """Cosine similarity between every pair of fibers, averaged over the batch: ``(F, F)``.

    Fibers are the entries of ``encoder.fiber_map`` (group elements, or spatial cells for
    translation), flattened in grid order. ``centred`` (default) first subtracts each image's
    mean fiber: the fibers of a ReLU network share a large non-negative component, so their
    raw cosines are all near 1 (0.98-1.00 on the digits, trained or not) and a raw heat map is
    one flat square; what differs from fiber to fiber is the remainder.
    """
    with eval_mode(encoder), torch.no_grad():  # type: ignore[arg-type]  # an nn.Module
        fibers = encoder.fiber_map(encoder(x)).flatten(2).float()  # (B, C, F)
    if centred:
        fibers = fibers - fibers.mean(dim=2, keepdim=True)
    unit = F.normalize(fibers, dim=1)
    return torch.einsum("bcf,bcg->fg", unit, unit) / len(x)


def grid_distances(shape: tuple[int, ...], cyclic: bool) -> torch.Tensor:
    """Topographic distance between every two fibers, ``(F, F)``: the fiber sampler's own
    definition (:meth:`FiberGrid.distances` with single-fiber bundles)."""
    return FiberGrid(tuple(shape), cyclic, (1,) * len(shape)).distances()


def similarity_by_distance(
    matrix: torch.Tensor, distances: torch.Tensor
) -> tuple[list[float], list[float]]:
    """Mean similarity at each topographic distance (the curve S-SSL should make fall)."""
    levels = torch.unique(distances.round(decimals=4))
    means = [float(matrix[(distances.round(decimals=4) == d)].mean()) for d in levels]
    return [float(d) for d in levels], means


def colour_limit(matrix: torch.Tensor) -> float:
    """Largest |off-diagonal| similarity (the diagonal is 1 by definition and would wash the
    scale out); at least 1e-3 so a constant matrix still draws."""
    off = matrix[~torch.eye(len(matrix), dtype=torch.bool)]
    return max(float(off.abs().max()) if off.numel() else 1.0, 1e-3)


#: type sizes (points) for a figure TensorBoard's Images card shrinks to ~320 px wide (see
#: docs/figures/tensorboard/images.png): at 8 inches x 100 dpi, 22 pt stays ~12 px on screen
#: (matplotlib's default 10 pt at 80 dpi became ~5 px, unreadable)
FIGURE_STYLE: dict[RcKeyType, float] = {
    "font.size": 22,
    "axes.titlesize": 22,
    "axes.labelsize": 22,
    "xtick.labelsize": 20,
    "ytick.labelsize": 20,
    "lines.linewidth": 3.0,
    "lines.markersize": 9,
}


def similarity_figure(
    matrix: torch.Tensor, encoder: EquivariantEncoder, example: torch.Tensor | None = None
) -> Any:
    """The matplotlib figure: heat map (adaptive symmetric scale) and similarity vs distance,
    with type large enough to read in TensorBoard's image card (:data:`FIGURE_STYLE`)."""
    from matplotlib import rc_context

    with rc_context(FIGURE_STYLE):
        return _similarity_figure(matrix, encoder, example)


def _similarity_figure(
    matrix: torch.Tensor, encoder: EquivariantEncoder, example: torch.Tensor | None
) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 4.0), dpi=100)
    heat, curve = figure.subplots(1, 2)
    limit = colour_limit(matrix)
    image = heat.imshow(matrix.numpy(), vmin=-limit, vmax=limit, cmap="RdBu_r")
    figure.colorbar(image, ax=heat)
    group = encoder.group
    kind = group.kind if encoder.structured else f"{group.kind} (unstructured)"
    heat.set_title(f"fiber cosine, {kind}")
    heat.set_xlabel("fiber")
    heat.set_ylabel("fiber")
    shape = None
    if example is not None:
        with eval_mode(encoder), torch.no_grad():  # type: ignore[arg-type]  # an nn.Module
            shape = tuple(encoder.fiber_map(encoder(example)).shape[2:])
    if shape is not None and math.prod(shape) == len(matrix):
        levels, means = similarity_by_distance(
            matrix, grid_distances(shape, encoder.fiber_grid_cyclic())
        )
        curve.plot(levels, means, marker="o")
        curve.axhline(0.0, color="grey", linewidth=0.8)
        curve.set_xlabel("topographic distance")
        curve.set_ylabel("centred cosine")
        curve.set_title("vs distance")
    else:
        curve.set_axis_off()
    figure.tight_layout()
    return figure
