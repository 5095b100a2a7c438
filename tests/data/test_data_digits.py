"""The embedded digits DataModule: shapes, range, splits, determinism, rotated test set."""

from __future__ import annotations

import pytest
import torch

from structured_ssl.data import DigitsDataModule


def test_shapes_dtype_range_and_split_sizes() -> None:
    dm = DigitsDataModule(batch_size=32, seed=0)
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, 1, 21, 21) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) <= 9
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    sizes = {name: len(dm.dataset(name)) for name in ("train", "val", "test", "test_rotated")}
    assert sum(sizes[n] for n in ("train", "val", "test")) == 1797
    assert sizes["test"] == sizes["test_rotated"] == round(0.15 * 1797)
    assert dm.info.channels == 1 and dm.info.num_classes == 10 and dm.info.image_size == 21


def test_same_seed_same_data_and_other_seed_other_split() -> None:
    a, b, c = DigitsDataModule(seed=3), DigitsDataModule(seed=3), DigitsDataModule(seed=4)
    for name in ("train", "val", "test", "test_rotated"):
        assert torch.equal(a.dataset(name).tensors[0], b.dataset(name).tensors[0])
    assert not torch.equal(a.dataset("test").tensors[1], c.dataset("test").tensors[1])
    first = [y for _, y in a.train_dataloader()]
    again = [y for _, y in b.train_dataloader()]
    assert all(torch.equal(p, q) for p, q in zip(first, again, strict=True))


def test_padding_leaves_room_to_rotate_and_rotated_set_differs() -> None:
    dm = DigitsDataModule(seed=0)
    x = dm.dataset("test").tensors[0]
    # the border ring (outside the 14x14 digit) is empty
    assert float(x[..., :3, :].abs().max()) == 0.0 and float(x[..., -3:].abs().max()) == 0.0
    rotated = dm.dataset("test_rotated").tensors[0]
    assert not torch.allclose(x, rotated)
    # rotation keeps the ink inside the frame: total ink is nearly conserved
    assert torch.allclose(rotated.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)), rtol=0.1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"image_size": 10, "digit_size": 14}, "image_size=10"),
        ({"val_fraction": 1.5}, "val_fraction"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        DigitsDataModule(**kwargs)
