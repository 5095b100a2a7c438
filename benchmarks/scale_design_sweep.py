"""The design choices behind the scale encoders, measured on the fiber error (docs/concepts/bounds.md, "Scale
equivariance"): SESN's per-scale window against whole kernels, Hermite orders, the Gaussian
width per unit scale, the `small` widths, and batch-norm shifts with and without the
empty-canvas subtraction. Centred digits, random init, eval mode, one / two scale steps.

    PYTHONPATH=src python benchmarks/scale_design_sweep.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import machine, table  # noqa: E402

from structured_ssl.groups import PAPER_SCALES, Group  # noqa: E402
from structured_ssl.groups.scale.conv import ScaleConv, ScaleLift  # noqa: E402
from structured_ssl.groups.scale.equivariance import (  # noqa: E402
    GEOMETRIC_SPAN_SCALES,
    centred_digits,
    scale_errors,
)
from structured_ssl.groups.scale.layers import ScaleEncoder  # noqa: E402


def sesn_window(encoder: ScaleEncoder) -> ScaleEncoder:
    """Cut every scale to SESN's odd window ``int(k s / max s) // 2 * 2 + 1`` (the old basis)."""
    for module in encoder.modules():
        if isinstance(module, ScaleLift | ScaleConv):
            k, top = module.kernel_size, max(module.scales)
            for i, s in enumerate(module.scales):
                half = (int(k * s / top) // 2 * 2 + 1) // 2
                keep = torch.tensor(np.abs(np.arange(k) - k // 2) <= half, dtype=torch.float32)
                module.basis[:, i] *= keep[:, None] * keep[None, :]
    return encoder


def errors(scales, size, digit, seed=0, window=False, **kwargs) -> list[tuple[float, float]]:
    torch.manual_seed(seed)
    encoder = ScaleEncoder(1, Group("scale", scales=scales), **kwargs)
    if window:
        sesn_window(encoder)
    x = centred_digits(16, size, digit)
    return [(e.fiber, e.ratio) for e in (scale_errors(encoder, x, (j,)) for j in (1, 2))]


def row(name: str, result: list[tuple[float, float]]) -> list[object]:
    return [name, result[0][0], result[1][0], result[0][1], result[1][1]]


def main() -> None:
    print(machine())
    headers = ["setting", "fiber 1 step", "fiber 2 steps", "ratio 1 step", "ratio 2 steps"]
    small = dict(widths=(16, 32, 32))
    rows = []
    for name, scales in (("paper", PAPER_SCALES), ("geometric", GEOMETRIC_SPAN_SCALES)):
        rows += [
            row(
                f"{name}: old basis (SESN window, k 7/5/5, orders 5/3/3, width 1.0)",
                errors(
                    scales,
                    21,
                    14,
                    window=True,
                    kernel_sizes=(7, 5, 5),
                    effective_sizes=(5, 3, 3),
                    envelope=1.0,
                    **small,
                ),
            ),
            row(
                f"{name}: same kernels, whole-kernel basis",
                errors(
                    scales,
                    21,
                    14,
                    kernel_sizes=(7, 5, 5),
                    effective_sizes=(5, 3, 3),
                    envelope=1.0,
                    **small,
                ),
            ),
            row(
                f"{name}: k 9/7/7, orders 3/3/3, width 0.75",
                errors(scales, 21, 14, effective_sizes=(3, 3, 3), **small),
            ),
            row(
                f"{name}: k 9/7/7, orders 3/2/2, width 1.0",
                errors(scales, 21, 14, envelope=1.0, **small),
            ),
            row(
                f"{name}: k 9/7/7, orders 3/2/2, width 0.6",
                errors(scales, 21, 14, envelope=0.6, **small),
            ),
            row(
                f"{name}: shipped small (k 9/7/7, orders 3/2/2, width 0.75)",
                errors(scales, 21, 14, **small),
            ),
            row(
                f"{name}: paper_mnist layers, orders 11/3/3",
                errors(
                    scales,
                    29,
                    20,
                    widths=(32, 64, 128),
                    kernel_sizes=(11, 7, 7),
                    effective_sizes=(11, 3, 3),
                ),
            ),
            row(
                f"{name}: paper_mnist layers, orders 3/2/2 (shipped)",
                errors(scales, 29, 20, widths=(32, 64, 128), kernel_sizes=(11, 7, 7)),
            ),
        ]
    print("\nsmall on 21 px digits unless named; seed 0\n")
    print(table(headers, rows))

    # widths: how many of 10 random inits meet both bounds (21 px digits, geometric, one step)
    counts = []
    for widths in ((8, 16, 32), (16, 32, 32)):
        within = 0
        for seed in range(10):
            torch.manual_seed(seed)
            encoder = ScaleEncoder(1, Group("scale", scales=GEOMETRIC_SPAN_SCALES), widths=widths)
            within += scale_errors(encoder, centred_digits(16, 21, 14), (1,)).within_bounds()
        counts.append([str(widths), encoder.num_parameters(), f"{within}/10"])
    print("\nwidths: inits within both bounds (21 px digits, geometric scales, one step)\n")
    print(table(["widths", "params", "inits within"], counts))

    # batch norm moved as training moves it, with and without f(x) - f(0)
    shifted = []
    for subtract in (True, False):
        torch.manual_seed(0)
        encoder = ScaleEncoder(1, Group("scale"), widths=(16, 32, 32))
        generator = torch.Generator().manual_seed(0)
        for module in encoder.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                n = module.num_features
                module.bias.data = torch.randn(n, generator=generator) * 0.3
                module.weight.data = 0.7 + 0.6 * torch.rand(n, generator=generator)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
                module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))
        if not subtract:
            encoder.lift = encoder.net.forward  # type: ignore[method-assign]  (instance attribute beats the method)
        x = centred_digits(16, 21, 14)
        shifted.append(
            row(
                f"BN shifted, {'f(x) - f(0)' if subtract else 'f(x)'}",
                [(e.fiber, e.ratio) for e in (scale_errors(encoder, x, (j,)) for j in (1, 2))],
            )
        )
    print("\nbatch norm moved (paper scales, 21 px digits)\n")
    print(table(headers, shifted))


if __name__ == "__main__":
    main()
