"""The embedded default: scikit-learn's 1,797 real 8x8 handwritten digits.

Ships with scikit-learn, so it runs offline. Each digit is resized to ``digit_size`` and
zero-padded to ``image_size`` so that rotating it keeps the whole digit inside the frame.
The default 21 = 4*5 + 1 keeps two stride-2 layers exactly rotation-equivariant (odd sizes at
every stride-2 input).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from structured_ssl.data.base import ImageDataModule, Splits, Statistics


class DigitsDataModule(ImageDataModule):
    """scikit-learn digits, resized and padded, with seeded train/val/test splits.

    Args:
        image_size: side of the padded image.
        digit_size: side the 8x8 digit is resized to (bilinear) before padding.
        test_fraction: share of the 1,797 images held out for testing.
        **kwargs: see [`ImageDataModule`][structured_ssl.data.base.ImageDataModule].
    """

    needs_files = False  # embedded in scikit-learn: data_dir is never read

    #: measured on the padded images at the default sizes
    statistics = Statistics(channels=1, num_classes=10, mean=(0.1,), std=(0.25,))

    def __init__(
        self,
        image_size: int = 21,
        digit_size: int = 14,
        test_fraction: float = 0.15,
        batch_size: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, **kwargs)
        if digit_size < 1:
            raise ValueError(f"data.digit_size must be >= 1, got {digit_size}")
        if image_size < digit_size:
            raise ValueError(
                f"data.image_size={image_size} is smaller than data.digit_size={digit_size}; "
                "the padded image must hold the resized digit"
            )
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
        self.image_size_ = image_size
        self.digit_size = digit_size
        self.test_fraction = test_fraction

    def load_arrays(self) -> Splits:
        return self.split(*self.padded_digits())

    def padded_digits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All 1,797 digits, resized and padded, in scikit-learn's order, and their labels."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        labels = torch.as_tensor(digits.target, dtype=torch.int64)
        images = F.interpolate(images, size=self.digit_size, mode="bilinear", align_corners=False)
        pad = self.image_size_ - self.digit_size
        images = F.pad(images, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)).clamp(0, 1)
        return images, labels

    def split(self, images: torch.Tensor, labels: torch.Tensor) -> Splits:
        """The seeded test split (the rest is train; the base class carves val from it)."""
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed + 1))
        n_test = int(round(self.test_fraction * len(images)))
        test_idx, train_idx = order[:n_test], order[n_test:]
        return Splits(
            train=(images[train_idx], labels[train_idx]), test=(images[test_idx], labels[test_idx])
        )
