"""Run folders name the dataset: a digits run and an image-folder run of the same objective,
group, loss and seed no longer share ``StructuredSSL-C8-NTXent-seed0``."""

from __future__ import annotations

from pathlib import Path

from jsonargparse import Namespace

from structured_ssl.experiments.trainer_setup import run_name


def config(data_class: str, **data_args: object) -> Namespace:
    return Namespace(
        seed_everything=0,
        model=Namespace(class_path="structured_ssl.methods.StructuredSSL", init_args=Namespace()),
        data=Namespace(class_path=f"structured_ssl.data.{data_class}", init_args=Namespace(**data_args)),
    )  # fmt: skip


def test_the_run_name_holds_the_dataset_and_an_image_folders_name(tmp_path: Path) -> None:
    assert run_name(config("DigitsDataModule")) == "StructuredSSL-C8-NTXent-digits-seed0"
    assert run_name(config("CIFAR10DataModule")) == "StructuredSSL-C8-NTXent-cifar10-seed0"
    pets = run_name(config("ImageFolderDataModule", data_dir=str(tmp_path / "my pets")))
    assert pets == "StructuredSSL-C8-NTXent-imagefolder-my_pets-seed0"
    cars = run_name(config("ImageFolderDataModule", data_dir=str(tmp_path / "cars") + "/"))
    assert cars == "StructuredSSL-C8-NTXent-imagefolder-cars-seed0"
    assert len({run_name(config("DigitsDataModule")), pets, cars}) == 3
