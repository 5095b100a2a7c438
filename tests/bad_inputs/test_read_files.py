"""Files the library reads, checked where they are read (issue 31, item 2): what is not a
refusal and so is not a row of the bad-input probe (tests/bad_inputs/bad_input_cases_files.py).

Images in an image folder are decoded by their meaning (16-bit grey by its bit depth, alpha
onto black, palette and CMYK to RGB) or refused by name; the check before a run finds every
kind of bad file; a ``--config`` file is read strictly (duplicate keys, alias bombs within a
small memory budget, environment-variable syntax) and every shipped config passes; a result
JSON is refused naming file and field; a checkpoint of another input shape names both shapes.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_input_cases_files import alias_bomb, bomb_png, image_folder, png_header_only
from PIL import Image

from structured_ssl.config.field_checks import ConfigError
from structured_ssl.config.shipped_configs import shipped_root
from structured_ssl.config.yaml_reading import MAX_EXPANDED_NODES, read_yaml_config
from structured_ssl.data import ImageFolderDataModule
from structured_ssl.data.any_dataset import to_image
from structured_ssl.data.download import DatasetFormatError
from structured_ssl.data.image_files import check_image, open_image
from structured_ssl.experiments.checkpoint_shape import shape_mismatch
from structured_ssl.experiments.results import ResultFileError, read_result


# --------------------------------------------------------------------------- decoding
def served(folder: Path, **kwargs) -> torch.Tensor:
    """Every training image the module serves, stacked, at the file's own size (no resize)."""
    data = ImageFolderDataModule(
        data_dir=str(folder), image_size=8, resize_to=8, batch_size=2, **kwargs
    )
    data.setup()
    return torch.stack(
        [
            data.dataset(name)[i][0]
            for name in ("train", "val", "test")
            for i in range(len(data.dataset(name)))
        ]
    )


def test_16_bit_grey_is_scaled_by_its_bit_depth_not_clipped_to_white(tmp_path: Path) -> None:
    values = np.linspace(1000, 60000, 64, dtype=np.uint16).reshape(8, 8)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.fromarray(values).save(tmp_path / name / f"{i}.png")
    assert Image.open(tmp_path / "a" / "0.png").mode == "I;16"
    images = served(tmp_path)
    assert images.shape[1] == 1, "16-bit grey is one channel"
    expected = torch.from_numpy(values.astype(np.float32) / 65535.0)
    assert torch.allclose(images[0, 0], expected, atol=1e-6)
    assert float(images.min()) == pytest.approx(1000 / 65535, abs=1e-6)
    assert float(images.max()) == pytest.approx(60000 / 65535, abs=1e-6)
    rgb = to_image(Image.open(tmp_path / "a" / "0.png"), channels=3)
    assert rgb.shape == (3, 8, 8) and torch.allclose(rgb[2], expected, atol=1e-6)


def test_palette_alpha_and_cmyk_decode_to_what_they_show(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    reference = to_image(rgb)
    palette = rgb.quantize(256)
    assert torch.allclose(to_image(palette), to_image(palette.convert("RGB")))
    cmyk_path = tmp_path / "c.tif"
    rgb.convert("CMYK").save(cmyk_path)
    with Image.open(cmyk_path) as cmyk:
        assert cmyk.mode == "CMYK"
        assert (to_image(cmyk) - reference).abs().max() <= 2 / 255  # Pillow's CMYK round trip
    alpha = np.zeros((8, 8), np.uint8)
    alpha[:, 4:] = 255  # left half transparent, right half opaque
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(alpha))
    served_rgba = to_image(rgba)
    assert float(served_rgba[:, :, :4].abs().max()) == 0.0, "transparent pixels are black"
    assert torch.allclose(served_rgba[:, :, 4:], reference[:, :, 4:], atol=1e-6)
    grey_alpha = to_image(rgba.convert("LA"))
    assert grey_alpha.shape[0] == 1 and float(grey_alpha[:, :, :4].max()) == 0.0


# --------------------------------------------------------------------------- the check
def test_the_check_names_each_kind_of_bad_file(tmp_path: Path) -> None:
    good = image_folder(tmp_path) / "cat" / "00.png"
    check_image(good)
    cases = {
        "text.png": (b"not an image\n", "not an image Pillow can read"),
        "cut.png": (good.read_bytes()[:60], "damaged or cut short"),
        "huge.png": (png_header_only(15000, 15000), "15000 x 15000 pixels"),
    }
    for name, (content, words) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DatasetFormatError, match=words) as refused:
            check_image(tmp_path / name)
        assert str(refused.value).startswith(str(tmp_path / name))
    Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(DatasetFormatError, match="mode 'F'"):
        check_image(tmp_path / "f.tif")
    rgb = np.zeros((64, 64, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "full.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:400])
    with pytest.raises(DatasetFormatError, match="cut.jpg: damaged or cut short"):
        check_image(tmp_path / "cut.jpg")


def test_an_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 cannot stop root (these tests may run as root): Pillow's open is made to
    raise what it raises for such a file."""
    good = image_folder(tmp_path) / "dog" / "01.png"

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(good))

    monkeypatch.setattr("PIL.Image.open", denied)
    with pytest.raises(DatasetFormatError, match="01.png: cannot be read \\(permission denied\\)"):
        open_image(good)


def test_the_folder_check_runs_over_every_split_and_names_the_file(tmp_path: Path) -> None:
    bomb_png(tmp_path)
    data = ImageFolderDataModule(data_dir=str(tmp_path / "images"), image_size=13, resize_to=12)
    with pytest.raises(DatasetFormatError, match=r"data.data_dir=.*dog/huge.png: 15000 x 15000"):
        data.check_files()
    (tmp_path / "images" / "dog" / "huge.png").unlink()
    ImageFolderDataModule(
        data_dir=str(tmp_path / "images"), image_size=13, resize_to=12
    ).check_files()


def test_a_file_that_breaks_after_the_check_is_named_when_read(tmp_path: Path) -> None:
    folder = image_folder(tmp_path)
    data = ImageFolderDataModule(data_dir=str(folder), image_size=13, resize_to=12)
    data.check_files()
    (folder / "dog" / "02.png").write_text("overwritten")
    data.setup()
    with pytest.raises(DatasetFormatError, match="dog/02.png: not an image"):
        for name in ("train", "val", "test"):
            for i in range(len(data.dataset(name))):
                data.dataset(name)[i]


# --------------------------------------------------------------------------- configs
def test_the_alias_bomb_is_refused_in_a_short_line_within_a_small_memory_budget(
    tmp_path: Path,
) -> None:
    alias_bomb(tmp_path)
    assert (tmp_path / "bomb.yaml").stat().st_size < 400
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=f"more than {MAX_EXPANDED_NODES}") as refused:
            read_yaml_config(tmp_path / "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"{peak} bytes to refuse a 384-byte file"
    assert len(str(refused.value)) < 300


def test_duplicate_keys_anywhere_are_named_and_merge_keys_are_not_duplicates(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  callbacks:\n    - class_path: A\n      init_args: {k: 1, k: 2}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:4: key 'k' appears twice"):
        read_yaml_config(path)
    path.write_text("base: &b {lr: 1, wd: 2}\nmodel:\n  <<: *b\n  lr: 3\n")
    assert read_yaml_config(path)["model"] == {"lr": 3, "wd": 2}


def test_environment_variable_syntax_is_refused_and_plain_dollars_are_not(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    for value in ("${HOME}/runs", "$SCRATCH/runs", "runs/$USER"):
        path.write_text(f"trainer:\n  default_root_dir: {value}\n")
        with pytest.raises(ConfigError, match="environment-variable syntax"):
            read_yaml_config(path)
    path.write_text("trainer:\n  default_root_dir: runs\nname: 'cost in $ per hour'\n")
    assert read_yaml_config(path)["name"] == "cost in $ per hour"


def test_every_shipped_config_reads_strictly() -> None:
    paths = sorted(shipped_root().rglob("*.yaml"))
    assert len(paths) > 30
    for path in paths:
        read_yaml_config(path)


# --------------------------------------------------------------------------- result JSON, checkpoints
@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"seed": True}, "seed=true is not allowed: expected an integer"),
        ({"test": {"test/linear_acc": [0.5]}}, "test.test/linear_acc=[0.5]"),
        ({"fit": "done"}, 'fit="done" is not allowed'),
        ({"dataset": 3}, "dataset=3 is not allowed: expected a string"),
    ],
)
def test_a_result_field_of_the_wrong_type_is_named(
    tmp_path: Path, content: dict, words: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(content))
    with pytest.raises(
        ResultFileError, match=words.replace("[", "\\[").replace("]", "\\]")
    ) as refused:
        read_result(path)
    assert str(refused.value).startswith(str(path))


def test_a_checkpoint_of_the_same_shape_passes_and_another_names_both() -> None:
    served_shape = ("ImageFolderDataModule", {"in_channels": 3, "image_size": 33})
    assert (
        shape_mismatch("ckpt_path", "c.ckpt", {"in_channels": 3, "image_size": 33}, served_shape)
        is None
    )
    assert shape_mismatch("ckpt_path", "c.ckpt", {}, served_shape) is None
    refused = shape_mismatch(
        "ckpt_path", "c.ckpt", {"in_channels": 1, "image_size": 21}, served_shape
    )
    assert refused is not None
    assert "1-channel 21 x 21" in str(refused) and "3-channel 33 x 33" in str(refused)
