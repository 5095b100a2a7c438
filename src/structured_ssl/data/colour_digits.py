"""Colour digits, embedded: each scikit-learn digit drawn in a colour on a background colour.

The same 1,797 digits, sizes and splits as :class:`~structured_ssl.data.digits.DigitsDataModule`
(no download, small enough for a 2-core CPU), made RGB: the grey digit is the mask m in [0, 1]
and the image is ``bg (1 - m) + fg m``, the whole padded canvas in the background colour. The
two colours of every image are drawn from ``seed`` (uniform in the RGB cube, redrawn until they
are at least ``min_contrast`` apart), indexed by the digit's place in scikit-learn's order, so
the same seed gives the same images whatever the split. The label is the digit only: colour
is a nuisance, which is what a hue group (or colour jitter) should be invariant to.
"""

from __future__ import annotations

import torch

from structured_ssl.data.base import DataInfo, Splits
from structured_ssl.data.digits import DigitsDataModule

#: redraw rounds for colour pairs closer than ``min_contrast`` (each keeps the good pairs).
REDRAWS = 64


def draw_colours(
    count: int, seed: int, min_contrast: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(count, 3)`` foreground and background colours, at least ``min_contrast`` apart
    (Euclidean in RGB), from one seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    fg = torch.rand(count, 3, generator=generator)
    bg = torch.rand(count, 3, generator=generator)
    for _ in range(REDRAWS):
        close = (fg - bg).norm(dim=1) < min_contrast
        if not close.any():
            break
        fg[close] = torch.rand(int(close.sum()), 3, generator=generator)
        bg[close] = torch.rand(int(close.sum()), 3, generator=generator)
    return fg, bg


class ColourDigitsDataModule(DigitsDataModule):
    """The embedded digits in seeded colours (RGB); every argument as the digits' plus:

    Args:
        min_contrast: the least RGB distance between a digit's colour and its background
            (in [0, 0.9]; the cube's diagonal is 1.73).
    """

    def __init__(self, *args, min_contrast: float = 0.5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0.0 <= min_contrast <= 0.9:
            raise ValueError(
                f"data.min_contrast={min_contrast}: expected a value in [0, 0.9] (RGB distance "
                "between a digit's colour and its background)"
            )
        self.min_contrast = float(min_contrast)

    @property
    def info(self) -> DataInfo:
        # the colours are uniform in the cube: mean 0.5 and std about 0.29 per channel
        return DataInfo(
            channels=3, image_size=self.image_size_, num_classes=10, mean=(0.5,) * 3, std=(0.29,) * 3
        )

    def load_arrays(self) -> Splits:
        masks, labels = self.padded_digits()
        fg, bg = draw_colours(len(masks), self.seed + 2, self.min_contrast)
        images = bg[:, :, None, None] * (1 - masks) + fg[:, :, None, None] * masks
        return self.split(images, labels)
