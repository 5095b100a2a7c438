"""A researcher's own images: an image folder and any map-style Dataset as data modules.

The tests write small PNG folders (Pillow) and check what the shipped data modules promise:
the shared batch format, seeded splits, a seeded rotated test set, per-rank draws, exact
mid-epoch resume, the evaluation callbacks' ``dataset(name)``, unlabelled folders for
pretraining only (one-line refusal of evaluation), and short ``fit`` runs through the CLI.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from structured_ssl.cli import main
from structured_ssl.data import DatasetDataModule, ImageFolderDataModule
from structured_ssl.data.any_dataset import UNLABELLED, refuse_evaluation_without_labels

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("circle", "bar", "cross")


def picture(kind: str, index: int, size: tuple[int, int] = (18, 14)) -> Image.Image:
    """A small RGB picture of one of three shapes, jittered by ``index`` (W x H = 18 x 14)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h / 2 + (index % 3) - 1, w / 2 + (index % 5) - 2
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < 16
    elif kind == "bar":
        mask = np.abs(yy - cy) < 2
    else:
        mask = (np.abs(yy - cy) < 2) | (np.abs(xx - cx) < 2)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[mask] = (200 + index % 50, 120, 40 * (index % 4))
    return Image.fromarray(rgb)


def write_folder(root: Path, per_class: int = 12, labelled: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for kind in CLASSES:
        for i in range(per_class):
            target = root / kind if labelled else root
            target.mkdir(exist_ok=True)
            picture(kind, i).save(target / f"{kind}_{i:03d}.png")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "images")


def module(root: Path, **kwargs) -> ImageFolderDataModule:
    return ImageFolderDataModule(
        data_dir=str(root), image_size=17, resize_to=12, batch_size=8, **kwargs
    )


def test_a_class_folder_serves_the_shared_format_with_seeded_splits(folder: Path) -> None:
    data = module(folder)
    assert (data.channels, data.image_size, data.num_classes) == (3, 17, 3)
    assert data.classes == sorted(CLASSES)
    data.setup()
    sizes = {name: len(data.dataset(name)) for name in ("train", "val", "test", "test_rotated")}
    assert (
        sizes["train"] + sizes["val"] + sizes["test"] == 36
        and sizes["test"] == sizes["test_rotated"] == 5
    )
    x, y = next(iter(data.val_dataloader()))
    assert (
        x.shape == (sizes["val"], 3, 17, 17) and x.dtype == torch.float32 and y.dtype == torch.int64
    )
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) > 0.5
    assert float(x[:, :, :2].abs().max()) == 0.0, (
        "resized to 12 and zero-padded to 17: a blank border"
    )
    plain, rotated = data.dataset("test")[0][0], data.dataset("test_rotated")[0][0]
    assert (
        not torch.allclose(plain, rotated)
        and data.dataset("test")[0][1] == data.dataset("test_rotated")[0][1]
    )
    again = module(folder)
    again.setup()
    assert torch.equal(again.dataset("test")[3][0], data.dataset("test")[3][0]), (
        "same seed, same split"
    )
    other = module(folder, seed=1)
    other.setup()
    test_files = lambda d: {  # noqa: E731
        d.sources["train"].files[i][0].name for i in d.dataset("test").dataset.indices
    }  # noqa: E731
    assert test_files(other) != test_files(data)


def test_train_test_subfolders_are_official_splits_and_grey_conversion(tmp_path: Path) -> None:
    write_folder(tmp_path / "split" / "train", per_class=4)
    write_folder(tmp_path / "split" / "test", per_class=2)
    data = module(tmp_path / "split", channels=1)
    data.setup()
    assert (
        data.channels == 1
        and len(data.dataset("test")) == 6
        and len(data.dataset("train")) + len(data.dataset("val")) == 12
    )
    assert data.dataset("test")[0][0].shape == (1, 17, 17)


def test_per_rank_draws_are_disjoint_and_resume_continues_with_the_next_batch(folder: Path) -> None:
    data = module(folder)
    data.setup()
    n = len(data.dataset("train"))
    drawn = []
    for rank in (0, 1):
        data.trainer = SimpleNamespace(
            world_size=2, global_rank=rank, num_training_batches=float("inf")
        )
        loader = data.train_dataloader()
        loader.sampler.set_epoch(3)
        drawn.append(list(loader.sampler))
    assert (
        not set(drawn[0]) & set(drawn[1])
        and len(set(drawn[0]) | set(drawn[1])) == len(drawn[0]) * 2 >= n - 1
    )

    data.trainer = SimpleNamespace(world_size=1, global_rank=0, num_training_batches=float("inf"))
    first = data.train_dataloader()
    first.sampler.set_epoch(1)
    batches = iter(first)
    next(batches)
    state = first.state_dict()
    expected = [y.tolist() for _, y in batches]
    resumed = data.train_dataloader()
    resumed.load_state_dict(state)
    assert state == {"epoch": 1, "batches": 1}
    assert [y.tolist() for _, y in resumed] == expected and len(expected) >= 1


class Arrays(Dataset):
    """A plain map-style Dataset of (H, W) uint8 arrays with labels, and a ``targets`` list."""

    def __init__(self, n: int = 30) -> None:
        self.images = [np.asarray(picture(CLASSES[i % 3], i).convert("L")) for i in range(n)]
        self.targets = [i % 3 for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.images[index], self.targets[index]


class Tensors(Dataset):
    """Float (C, H, W) tensors, images only (no labels)."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.rand(3, 15, 15, generator=torch.Generator().manual_seed(index))


def test_any_map_style_dataset_with_or_without_labels() -> None:
    data = DatasetDataModule(train=Arrays(), image_size=17, resize_to=14, batch_size=4)
    assert (data.channels, data.num_classes, data.labelled) == (1, 3, True)
    x, y = next(iter(data.test_dataloader()[1]))
    assert x.shape == (4, 1, 17, 17) and set(y.tolist()) <= {0, 1, 2}
    unlabelled = DatasetDataModule(train=Tensors(), image_size=15, batch_size=4)
    assert (
        unlabelled.labelled is False
        and unlabelled.num_classes == 2
        and unlabelled.val_dataloader() == []
    )
    x, y = next(iter(unlabelled.predict_dataloader()))
    assert x.shape == (4, 3, 15, 15) and set(y.tolist()) == {UNLABELLED}
    assert torch.allclose(x[0], Tensors()[0]), "a float tensor at its own size is served as it is"


def test_unlabelled_folder_pretrains_only_and_evaluation_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    data = module(write_folder(tmp_path / "flat", per_class=4, labelled=False))
    data.setup()
    assert data.labelled is False and len(data.dataset("train")) == 12
    with pytest.raises(KeyError):
        data.dataset("test")  # the evaluation callbacks read "no test split" as "skip"
    with pytest.raises(ValueError, match="has no labels, so test cannot run"):
        data.test_dataloader()
    for subcommand in ("test", "validate"):
        message = refuse_evaluation_without_labels(subcommand, data, SimpleNamespace(callbacks=[]))
        assert (
            message and "\n" not in message and f"`{subcommand}`" in message and "flat" in message
        )
    from structured_ssl.callbacks.fit_summary import FitSummary

    assert "FitSummary" in refuse_evaluation_without_labels(
        "fit", data, SimpleNamespace(callbacks=[FitSummary()])
    )
    assert refuse_evaluation_without_labels("fit", data, SimpleNamespace(callbacks=[])) is None
    assert (
        refuse_evaluation_without_labels(
            "test", module(write_folder(tmp_path / "labelled", 2)), None
        )
        is None
    )


def test_the_probe_ignores_unlabelled_images() -> None:
    from structured_ssl.methods import StructuredSSL

    model = StructuredSSL(in_channels=1, image_size=17, num_classes=3)
    features = torch.randn(6, model.encoder.out_channels)
    assert float(model.probe_loss(features, torch.full((6,), UNLABELLED)).detach()) == 0.0
    labels = torch.tensor([0, 1, 2, UNLABELLED, 1, UNLABELLED])
    expected = torch.nn.functional.cross_entropy(
        model.probe(features)[labels >= 0], labels[labels >= 0]
    )
    assert torch.allclose(model.probe_loss(features, labels), expected)


SHORT = [
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
    "--trainer.log_every_n_steps=1", "--data.init_args.image_size=17", "--data.init_args.resize_to=12",
    "--data.init_args.batch_size=8", "--data.init_args.num_workers=0",
]  # fmt: skip


def cli_args(dataset: str, root: Path, logs: Path) -> list[str]:
    short = [a for a in SHORT if "limit_val" not in a] if dataset.endswith("pretrain") else SHORT
    configs = ("objectives/structured.yaml", f"datasets/{dataset}.yaml", "groups/rotation.yaml")
    return [
        *(a for c in configs for a in ("--config", str(REPO / "configs" / c))),
        f"--data.init_args.data_dir={root}", f"--trainer.default_root_dir={logs}", *short,
    ]  # fmt: skip


def test_fit_through_the_cli_on_a_class_folder_evaluates_and_an_unlabelled_one_pretrains(
    tmp_path: Path, capsys
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = write_folder(tmp_path / "images")
    main(["fit", *cli_args("image_folder", folder, tmp_path / "logs")])
    (version,) = (tmp_path / "logs").rglob("version_0")
    events = EventAccumulator(str(version), size_guidance={"scalars": 0})
    events.Reload()
    assert {
        "train/loss",
        "val/probe_acc",
        "val/equivariance_error",
        "z_summary/run_test_linear_acc",
    } <= set(events.Tags()["scalars"])
    assert "this run's encoder (StructuredSSL, rotation order 8)" in capsys.readouterr().out

    flat = write_folder(tmp_path / "flat", per_class=6, labelled=False)
    main(["fit", *cli_args("image_folder_pretrain", flat, tmp_path / "pretrain")])
    (ckpt,) = (tmp_path / "pretrain").rglob("last.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "test",
                *cli_args("image_folder_pretrain", flat, tmp_path / "pretrain"),
                f"--ckpt_path={ckpt}",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        exit_info.value.code == 2
        and len(err) == 1
        and "has no labels, so `test` cannot run" in err[0]
    ), err
    with pytest.raises(SystemExit):
        main(["fit", *cli_args("image_folder", flat, tmp_path / "refused")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainer.callbacks" in err[0] and "has no labels" in err[0], err
