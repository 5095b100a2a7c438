"""Equivariance of the hue, crop and hue x crop encoders, and the hue action's own algebra.

Writes ``docs/results/colour-crop/equivariance.md``: the composition error of N hue shifts
(max |R_1^N x - x| on random RGB images, float32), the fiber error, lifted error and no-shift
baseline of each encoder on its checked elements (``small``, 21 px, its plug-in's probes, eval
mode) at init and with weights and batch-norm statistics moved at random (training cannot move
the hue lift's error; it moves crop's through the background response), the crop action
claimed on fractional-cell shifts (``whole_cells_only=False``), and the structure-free twins.

    PYTHONPATH=src python benchmarks/colour_crop_equivariance.py
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.groups.hue.colour import hue_rotate

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "colour-crop" / "equivariance.md"
SCALES = (1.0, 1.1892, 1.4142, 1.6818)
GROUPS = {
    "hue C4": (Group("hue", order=4), 3),
    "hue C8": (Group("hue", order=8), 3),
    "crop S4xT": (Group("crop", scales=SCALES), 3),
    "hue x crop H3xS3xT": (Group("hue_crop", order=3, scales=SCALES[:3]), 3),
}


def moved(encoder: torch.nn.Module) -> torch.nn.Module:
    """Weights and batch-norm statistics moved at random (a stand-in for training)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.3)
        for m in encoder.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.add_(torch.randn(m.running_mean.shape, generator=generator))
    return encoder


def row(name: str, encoder: torch.nn.Module, x: torch.Tensor) -> str:
    rows = measure(encoder, x)
    fiber = [r.fiber for r in rows]
    ratio = [r.fiber / r.baseline for r in rows]
    lifted = [r.lifted for r in rows]
    return (
        f"| {name} | {len(rows)} | {statistics.median(fiber):.2g} | {max(fiber):.2g} | "
        f"{max(lifted):.2g} | {statistics.median(ratio):.2g} | {max(ratio):.2g} |"
    )


def main() -> None:
    lines = ["## Composition: N hue shifts by 360/N degrees against the identity (float32)", ""]
    lines += ["| N | max abs error | max abs value moved by one shift |", "| --- | --- | --- |"]
    x = torch.rand(16, 3, 21, 21, generator=torch.Generator().manual_seed(0))
    for order in (3, 4, 6, 8, 12):
        y = x
        for _ in range(order):
            y = hue_rotate(y, 1, order)
        lines.append(
            f"| {order} | {(y - x).abs().max():.2g} | {(hue_rotate(x, 1, order) - x).abs().max():.2f} |"
        )
    lines += [
        "",
        "## Encoders on their checked elements (fiber error, relative; no-shift = claiming no action)",
        "",
    ]
    lines += [
        "| encoder | elements | median fiber error | worst | worst lifted error | median error / no-shift | worst |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (group, channels) in GROUPS.items():
        probes = group.plugin.probe_images(channels, 21, count=8)
        torch.manual_seed(0)
        encoder = build_encoder(EncoderSpec(), group, channels, 21)
        lines.append(row(f"{name}, init", encoder, probes))
        lines.append(row(f"{name}, weights + BN moved", moved(encoder), probes))
        if group.kind == "crop":
            encoder.action.whole_cells_only = False
            lines.append(row(f"{name}, moved, action claimed on fractional cells", encoder, probes))
        torch.manual_seed(0)
        twin = build_encoder(EncoderSpec(structured=False), group, channels, 21)
        lines.append(row(f"{name}, structure-free twin (claims the action)", twin, probes))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        "# Hue, crop and hue x crop: equivariance (`benchmarks/colour_crop_equivariance.py`)\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(OUT.read_text())


if __name__ == "__main__":
    main()
