"""Print the fiber-similarity numbers of a checkpoint beside the same encoder at random init.

    python scripts/fiber_numbers.py runs/<run>/version_0/checkpoints/last.ckpt > docs/results/fiber-similarity-c8.md

Raw cosine range between pooled fibers, and the centred similarity per topographic distance
(what the TensorBoard figure ``val/fiber_similarity`` draws), on 64 validation digits.
"""

from __future__ import annotations

import sys

import torch

from structured_ssl.callbacks.fiber_figure import (
    fiber_similarity,
    grid_distances,
    similarity_by_distance,
)
from structured_ssl.data import DigitsDataModule
from structured_ssl.encoders import build_encoder
from structured_ssl.methods import StructuredSSL


def rows(
    encoder: torch.nn.Module, x: torch.Tensor
) -> tuple[float, float, list[float], list[float]]:
    raw = fiber_similarity(encoder, x, centred=False)
    off = raw[~torch.eye(len(raw), dtype=torch.bool)]
    shape = tuple(encoder.fiber_map(encoder.eval()(x[:1])).shape[2:])
    levels, means = similarity_by_distance(
        fiber_similarity(encoder, x), grid_distances(shape, encoder.fiber_grid_cyclic())
    )
    return float(off.min()), float(off.max()), levels, means


def main(checkpoint: str) -> None:
    data = DigitsDataModule()
    data.setup()
    x = data.dataset("val").tensors[0][:64]
    model = StructuredSSL.load_from_checkpoint(checkpoint, map_location="cpu")
    torch.manual_seed(0)
    untrained = build_encoder(model.encoder_spec, model.group, model.in_channels, model.image_size)
    table = []
    for name, encoder in (("random init", untrained), ("trained (checkpoint)", model.encoder)):
        low, high, levels, means = rows(encoder, x)
        table.append((name, low, high, means))
    print(
        f"## fiber similarity, {model.group.kind} order {model.group.order}, 64 validation digits\n"
    )
    print(
        "| encoder | raw cosine, off-diagonal | "
        + " | ".join(f"centred, distance {d:g}" for d in levels)
        + " |"
    )
    print("|---|---|" + "---|" * len(levels))
    for name, low, high, means in table:
        print(
            f"| {name} | {low:.3f} to {high:.3f} | " + " | ".join(f"{m:+.3f}" for m in means) + " |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
