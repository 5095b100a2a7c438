"""The config checks read a data module's arguments as the CLI offers them.

The data modules forward the shared loader arguments with ``**kwargs`` to
[`ImageDataModule`][structured_ssl.data.base.ImageDataModule]; the CLI's parser (jsonargparse)
follows ``super().__init__(**kwargs)`` and leaves out the arguments a class fills itself.
[`init_parameters`][structured_ssl.config.field_checks.init_parameters] must name the same
arguments with the same defaults, or a check would read a default the CLI does not use, or
suggest a key it refuses.
"""

from __future__ import annotations

import inspect

import pytest
from jsonargparse import ArgumentParser

import structured_ssl.data as data
from structured_ssl.config.field_checks import init_parameters

DATA_CLASSES = [
    getattr(data, name)
    for name in data.__all__
    if isinstance(getattr(data, name), type)
    and issubclass(getattr(data, name), data.ImageDataModule)
    and getattr(data, name) is not data.ImageDataModule
]


@pytest.mark.parametrize("cls", DATA_CLASSES, ids=lambda cls: cls.__name__)
def test_init_parameters_are_the_arguments_the_cli_offers(cls: type) -> None:
    parser = ArgumentParser()
    parser.add_class_arguments(cls, "data")
    offered = parser.get_defaults().data.as_dict()
    ours = init_parameters(cls)
    assert list(ours) == list(offered)  # the same arguments, in the order --help lists them
    for name, parameter in ours.items():
        if parameter.default is not inspect.Parameter.empty:
            assert offered[name] == parameter.default, name


def test_a_subclass_default_wins_over_the_base() -> None:
    assert init_parameters(data.DigitsDataModule)["batch_size"].default == 128
    assert init_parameters(data.CIFAR10DataModule)["val_fraction"].default == 0.1
    assert "device_resident" not in init_parameters(data.ImageFolderDataModule)
