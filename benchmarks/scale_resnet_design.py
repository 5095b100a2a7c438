"""Why the paper ResNets' scale encoder lifts its input (``groups/scale/pyramid.py``): the
fiber error of SESN scale layers grows with depth through the 20-layer ResNet, the input lift
does not. paper_cifar at 33 px, probe images (content inside a centred disk), random init,
eval mode, one and two scale steps, the paper's and six geometric scales; the check command's
numbers (``structured_ssl.encoders.equivariance.measure``). Bound: fiber <= 0.10 and <= 0.25 x no-shift.

    PYTHONPATH=src python benchmarks/scale_resnet_design.py   # ~2 min on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import machine, table  # noqa: E402

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder  # noqa: E402
from structured_ssl.groups import PAPER_SCALES, Group  # noqa: E402
from structured_ssl.groups.scale.equivariance import GEOMETRIC_SPAN_SCALES  # noqa: E402
from structured_ssl.lifted.probes import probe_images  # noqa: E402

SIZE = 33


def errors(scales, lifting: str, depth: int | None = None) -> list[float]:
    torch.manual_seed(0)
    encoder = build_encoder(
        EncoderSpec(architecture="paper_cifar", scale_lifting=lifting),
        Group("scale", scales=scales),
        3,
        SIZE,
    )
    if depth is not None:
        encoder.net = encoder.net[:depth]  # the first `depth` modules: stem convs, then blocks
    rows = measure(encoder, probe_images(3, SIZE, count=8))
    return [v for r in rows for v in (r.fiber, r.baseline, r.fiber / r.baseline)]


def main() -> None:
    print(machine())
    headers = [
        "scales",
        "encoder",
        "fiber 1 step",
        "no-shift 1",
        "ratio 1",
        "fiber 2 steps",
        "no-shift 2",
        "ratio 2",
    ]
    rows = []
    for name, scales in (("paper", PAPER_SCALES), ("geometric", GEOMETRIC_SPAN_SCALES)):
        for depth, what in (
            (1, "SESN, lifting conv only"),
            (2, "SESN, + stem conv (2 layers)"),
            (5, "SESN, + stage 1 (8 layers)"),
            (8, "SESN, + stage 2 (14 layers)"),
            (None, "SESN, whole ResNet (20 layers)"),
        ):
            rows.append([name, what, *errors(scales, "sesn", depth)])
        rows.append([name, "input lift, whole ResNet (default)", *errors(scales, "input")])
    print(table(headers, rows))


if __name__ == "__main__":
    main()
