"""The colour digits: embedded, deterministic from the seed, the grey digits' sizes and splits,
and colours that differ in hue only (the nuisance the hue group covers)."""

from __future__ import annotations

import torch

from structured_ssl.data import ColourDigitsDataModule, DigitsDataModule
from structured_ssl.data.colour_digits import BACKGROUND_COLOUR, DIGIT_COLOUR, draw_colours


def splits(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    module = ColourDigitsDataModule(seed=seed)
    module.setup()
    return {name: module.dataset(name).tensors for name in ("train", "val", "test")}


def test_the_same_seed_gives_the_same_images_and_another_seed_other_colours() -> None:
    first, again, other = splits(0), splits(0), splits(1)
    for name in first:
        assert torch.equal(first[name][0], again[name][0]) and torch.equal(
            first[name][1], again[name][1]
        )
    fg0, _ = draw_colours(100, 2)
    fg1, _ = draw_colours(100, 3)
    assert not torch.allclose(fg0, fg1), "the colours are drawn from the seed"
    assert not torch.equal(first["test"][0], other["test"][0])


def test_it_is_the_grey_digits_coloured_same_sizes_and_splits() -> None:
    colour = ColourDigitsDataModule(seed=0)
    grey = DigitsDataModule(seed=0)
    assert colour.info.channels == 3 and colour.info.image_size == grey.info.image_size == 21
    colour.setup()
    grey.setup()
    for name in ("train", "val", "test"):
        (cx, cy), (gx, gy) = colour.dataset(name).tensors, grey.dataset(name).tensors
        assert cx.shape == (gx.shape[0], 3, 21, 21) and torch.equal(cy, gy), name
        assert 0.0 <= float(cx.min()) and float(cx.max()) <= 1.0


def test_colours_differ_in_hue_only() -> None:
    """Every image's grey level (mean over channels) is the digit mask between the two fixed
    levels, whatever its hues: the luminance contrast is the same in every image."""
    colour = ColourDigitsDataModule(seed=0)
    grey = DigitsDataModule(seed=0)
    colour.setup()
    grey.setup()
    (cx, _), (gx, _) = colour.dataset("test").tensors, grey.dataset("test").tensors
    level = BACKGROUND_COLOUR[0] + (DIGIT_COLOUR[0] - BACKGROUND_COLOUR[0]) * gx[:, 0]
    assert torch.allclose(cx.mean(dim=1), level, atol=1e-5)
    corner = cx[:, :, 0, 0]  # background: one colour per image, its hue varies across images
    assert corner.std(dim=0).min() > 0.05
