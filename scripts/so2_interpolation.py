"""How much of SO(2)'s arbitrary-angle error is the input's interpolation: one table.

For each angle φ: the fiber error of the SO(2) encoder at init (fibers read at θ + φ of the
rotated input against θ of the original, 64 random θ), the error of the wrong reading (θ - φ),
and what rotating the probe by φ and back loses (bilinear interpolation). Probe content: the
check command's SO(2) probes (smooth, centred window) and, for contrast, the sharper shared probes.

    python scripts/so2_interpolation.py > docs/results/so2-interpolation.md
"""

from __future__ import annotations

import math

import torch

from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group
from structured_ssl.groups.so2.layers import interpolation_error, rotate_images
from structured_ssl.lifted.probes import probe_images
from structured_ssl.methods import StructuredSSL

ANGLES = (math.pi / 2, math.pi / 8, 0.3, 1.0, 2.5)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).mean())


def main() -> None:
    group = Group("so2")
    print(
        "| image | probe | φ (rad) | fiber error at θ + φ | wrong reading θ - φ | input rotate-and-back loss |"
    )
    print("|---|---|---|---|---|---|")
    for size, kernels in ((21, (5, 3, 3)), (29, (11, 7, 7))):
        torch.manual_seed(0)
        encoder = StructuredSSL(
            group=group, image_size=size, encoder=EncoderSpec(kernel_sizes=kernels)
        ).encoder.eval()
        probes = {
            "smooth (check's SO(2) probe)": group.plugin.probe_images(1, size, 8, 0),
            "shared probe_images": probe_images(1, size),
        }
        theta = torch.rand(8, generator=torch.Generator().manual_seed(1)) * 2 * math.pi
        for name, x in probes.items():
            with torch.no_grad():
                z = encoder(x)
                for phi in ANGLES:
                    moved = encoder(rotate_images(x, phi))
                    expected = encoder.fibers_at(z, theta)
                    right = relative(encoder.fibers_at(moved, theta + phi), expected)
                    wrong = relative(encoder.fibers_at(moved, theta - phi), expected)
                    print(
                        f"| {size} | {name} | {phi:.3f} | {right:.2g} | {wrong:.2g} "
                        f"| {interpolation_error(x, phi):.2g} |"
                    )


if __name__ == "__main__":
    main()
