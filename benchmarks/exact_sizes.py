"""Rotation equivariance of each paper backbone on sides that the exact-size rule accepts and
rejects (``paper_layers.exact_rotation_size``: side = 1 mod 2^s for s stride-2 layers).

Relative error ||f(T_g x) - Γ_g f(x)|| / ||Γ_g f(x)|| at init, eval mode, averaged over every
non-identity exact element, 2 images with content away from the border.

    python benchmarks/exact_sizes.py [--json docs/results/exact_sizes.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import machine, table  # noqa: E402

from structured_ssl.callbacks.metrics import equivariance_error  # noqa: E402
from structured_ssl.encoders import EncoderSpec, build_encoder  # noqa: E402
from structured_ssl.encoders.paper import layer_strides  # noqa: E402
from structured_ssl.encoders.paper_layers import exact_rotation_size, nearest_exact_rotation_size  # noqa: E402
from structured_ssl.groups import Group  # noqa: E402

SIDES = {"paper_mnist": (1, (28, 29)), "paper_cifar": (3, (32, 33)), "paper_tiny": (3, (64, 65))}
GROUPS = {"C4": Group("rotation", 4), "D4": Group("dihedral", 4)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for backbone, (channels, sides) in SIDES.items():
        strides = layer_strides(backbone)
        for name, group in GROUPS.items():
            encoder = build_encoder(EncoderSpec(architecture=backbone), group, channels, sides[-1])
            for side in sides:
                x = torch.zeros(2, channels, side, side)
                x[:, :, 3:-3, 3:-3] = torch.rand(2, channels, side - 6, side - 6)
                rows.append(
                    {
                        "backbone": backbone,
                        "group": name,
                        "side": side,
                        "rule_exact": exact_rotation_size(side, strides),
                        "nearest_exact": nearest_exact_rotation_size(side, strides),
                        "error": float(equivariance_error(encoder, x)),
                    }
                )
                print(rows[-1], file=sys.stderr, flush=True)
    print(machine())
    print(
        table(
            [
                "backbone",
                "group",
                "side",
                "rule says exact",
                "nearest exact side",
                "relative error",
            ],
            [
                [
                    r["backbone"],
                    r["group"],
                    r["side"],
                    r["rule_exact"],
                    r["nearest_exact"],
                    f"{r['error']:.2g}",
                ]
                for r in rows
            ],
        )
    )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
