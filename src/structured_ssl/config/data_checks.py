"""Checks of the data module against the run: the training set's size per process, the data
folder a file-based dataset needs, and the encoder built for the data's channels and size."""

from __future__ import annotations

from typing import Any

from structured_ssl.config.field_checks import ConfigError, import_class, lookup


def check_train_size(train_subset: int | None, processes: int) -> None:
    """A training set smaller than one global batch leaves ranks with partial (or single) batches."""
    if train_subset is not None and train_subset < 2 * processes:
        raise ConfigError(
            f"data.train_subset={train_subset} leaves fewer than 2 training images per process "
            f"({processes} process(es)); batch norms need at least 2"
        )


# --------------------------------------------------------------------------- data
def check_data_dir(datamodule: Any) -> None:
    """File-based datasets need ``data.data_dir`` to exist unless they may download into it."""
    if not getattr(datamodule, "needs_files", False) or getattr(datamodule, "download", False):
        return
    try:
        datamodule.check_data_dir()
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None


def check_data_matches_model(datamodule: Any, model: Any) -> None:
    """The encoder was built for the channels and size the data module says it serves."""
    try:
        info = datamodule.info
    except (AttributeError, NotImplementedError):
        return
    name = type(datamodule).__name__
    for field, data_value, model_value in (
        ("in_channels", info.channels, getattr(model, "in_channels", None)),
        ("image_size", info.image_size, getattr(model, "image_size", None)),
        ("num_classes", info.num_classes, getattr(model, "num_classes", None)),
    ):
        if model_value is not None and data_value != model_value:
            raise ConfigError(
                f"model.{field}={model_value} does not match the data: {name} serves "
                f"{field.replace('in_', '')}={data_value}; the encoder must be built for the data "
                "(the CLI links these from the data module: do not set them by hand)"
            )


def data_channels(data: Any) -> int | None:
    """The channels the data module will serve, from a trial instance's ``info`` (its
    ``__init__`` only stores settings), so a group that needs RGB (hue) can refuse grey data
    before the model is built; None when that needs the files (image folders) or the settings
    are bad (the data module's own check names those next)."""
    cls = import_class(str(lookup(data, "class_path") or ""))
    init_args = lookup(data, "init_args")
    if not isinstance(cls, type):
        return None
    kwargs = dict(init_args.as_dict() if hasattr(init_args, "as_dict") else (init_args or {}))
    try:
        return int(cls(**kwargs).info.channels)
    except Exception:  # noqa: BLE001 - reported by the data module's own check, not here
        return None
