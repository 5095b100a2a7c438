"""Colour digits, embedded: each scikit-learn digit drawn in a colour on a background colour.

The same 1,797 digits, sizes and splits as
[`DigitsDataModule`][structured_ssl.data.digits.DigitsDataModule] (no download, small enough for a
2-core CPU), made RGB: the grey digit is the mask m in [0, 1] and the image is ``bg (1 - m) + fg
m``, the whole padded canvas in the background colour.

The colours differ in HUE only: ``colour = L (1, 1, 1) + S (cos θ e1 + sin θ e2)`` with
``e1, e2`` an orthonormal pair perpendicular to the grey axis, a fixed level and saturation
(digit: L 0.65, S 0.4; background: L 0.25, S 0.25; every channel stays in [0, 1]) and the two
hue angles θ drawn uniformly and independently per image from ``seed``, indexed by the digit's
place in scikit-learn's order (the same seed gives the same images whatever the split). So
the nuisance is exactly a continuous hue rotation of each part (the luminance contrast of
digit against background is the same in every image), which is what the hue group C_N covers
to within half a step; the label is the digit only. Why not uniform RGB colours: then the
digit is darker than its background in half the images and random features read the
background's colour, not the digit (a linear probe on frozen random features: 13%, raw
pixels 23%, against 94% on the grey digits), a problem hue structure does not address.
"""

from __future__ import annotations

import math

import torch

from structured_ssl.data.base import Splits, Statistics
from structured_ssl.data.digits import DigitsDataModule

#: (level, saturation) of the digit and of the background (docstring).
DIGIT_COLOUR = (0.65, 0.4)
BACKGROUND_COLOUR = (0.25, 0.25)


def hue_circle_colours(angles: torch.Tensor, level: float, saturation: float) -> torch.Tensor:
    """``(N, 3)`` RGB colours at ``level`` on the grey axis and ``saturation`` away from it."""
    e1 = torch.tensor([2.0, -1.0, -1.0]) / math.sqrt(6)
    e2 = torch.tensor([0.0, 1.0, -1.0]) / math.sqrt(2)
    chroma = torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2
    return level + saturation * chroma


def draw_colours(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(count, 3)`` digit and background colours, their hues drawn from one seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    angles = torch.rand(2, count, generator=generator, dtype=torch.float64) * 2 * math.pi
    fg = hue_circle_colours(angles[0], *DIGIT_COLOUR).float()
    bg = hue_circle_colours(angles[1], *BACKGROUND_COLOUR).float()
    return fg, bg


class ColourDigitsDataModule(DigitsDataModule):
    """The embedded digits in seeded hues (RGB); every argument as the digits' (module docstring)."""

    #: measured on the default sizes: the background's level dominates the mean
    statistics = Statistics(channels=3, num_classes=10, mean=(0.33,) * 3, std=(0.22,) * 3)

    def load_arrays(self) -> Splits:
        masks, labels = self.padded_digits()
        fg, bg = draw_colours(len(masks), self.seed + 2)
        images = bg[:, :, None, None] * (1 - masks) + fg[:, :, None, None] * masks
        return self.split(images, labels)
