"""Print the encoder table of docs/concepts/groups.md: parameters of each structured encoder and its twin.

    python scripts/encoder_params.py > docs/results/encoder-params.md

Builds every encoder with ``structured_ssl.encoders.build_encoder`` (the paper_mnist escnn C4
encoder takes a while on a CPU: escnn computes its basis at construction).
"""

from __future__ import annotations

from structured_ssl.encoders import build_encoder
from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group

ROWS = (
    ("small", 21, Group("rotation", 8), "C8"),
    ("small", 21, Group("dihedral", 4), "D4"),
    ("small", 21, Group("translation"), "translation"),
    ("small", 21, Group("scale"), "6 scales"),
    ("paper_mnist", 29, Group("rotation", 4), "C4"),
    ("paper_mnist", 29, Group("translation"), "translation"),
    ("paper_mnist", 29, Group("scale"), "6 scales"),
)


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    print("## encoder parameter counts (structured encoder and its structure-free twin)\n")
    print(
        "| architecture | image | group | structured encoder | params | structure-free twin | params | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for architecture, size, group, label in ROWS:
        structured = build_encoder(EncoderSpec(architecture=architecture), group, 1, size)
        twin = build_encoder(
            EncoderSpec(architecture=architecture, structured=False), group, 1, size
        )
        a, b = params(structured), params(twin)
        print(
            f"| {architecture} | {size}x{size} | {label} | {type(structured).__name__} | {a:,} "
            f"| {type(twin).__name__} | {b:,} | {b / a:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
