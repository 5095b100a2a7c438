"""A checkpoint's input shape against the data's, compared before the model is built.

Why: the image channels and size are linked from the data module into the model, so they
are not compared with a checkpoint's settings like the rest of the model
([`structured_ssl.experiments.resume_checks`][structured_ssl.experiments.resume_checks]): a
1-channel digits checkpoint resumed or predicted with an RGB image-folder config got as far as
``load_state_dict`` and ended in a ``RuntimeError: Error(s) in loading state_dict`` listing every
reshaped tensor. The checkpoint's hyperparameters hold ``in_channels`` and ``image_size``; the data
module states what it serves without reading its data (``info``), so the two are compared in one
line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from structured_ssl.config.field_checks import CheckpointError, import_class, lookup

#: (hyperparameter of the model, field of the data module's ``info``, the data setting)
SHAPE_FIELDS = (("in_channels", "channels", "channels"), ("image_size", "image_size", "image_size"))


def served_shape(stage: Any) -> tuple[str, dict[str, int]] | None:
    """(data class name, {hparam: value}) the config's data module serves; None when it cannot
    be told without building more (the data's own checks then speak)."""
    cls = import_class(str(lookup(stage, "data.class_path") or ""))
    init_args = lookup(stage, "data.init_args")
    if not isinstance(cls, type):
        return None
    kwargs = dict(init_args.as_dict() if hasattr(init_args, "as_dict") else init_args or {})
    try:
        info = cls(**kwargs).info
    except Exception:  # noqa: BLE001 - a data setting its own check refuses, in its own line
        return None
    return cls.__name__, {hparam: getattr(info, field) for hparam, field, _ in SHAPE_FIELDS}


def _shape_text(values: Mapping[str, Any]) -> str:
    size = values.get("image_size")
    return f"{values.get('in_channels')}-channel {size} x {size} images"


def shape_mismatch(
    field: str, path: str, hparams: Mapping[str, Any], served: tuple[str, dict[str, int]] | None
) -> CheckpointError | None:
    """The one-line refusal when the checkpoint was trained on another input shape, else None."""
    if served is None:
        return None
    name, wanted = served
    trained = {k: hparams.get(k) for k in wanted}
    if any(v is None for v in trained.values()) or trained == wanted:
        return None  # a checkpoint that records no shape: the weights' own check decides
    settings = ", ".join(f"data.{data}={wanted[h]}" for h, _, data in SHAPE_FIELDS)
    return CheckpointError(
        f"{field}={path!r} was trained on {_shape_text(trained)} (in_channels={trained['in_channels']}, "
        f"image_size={trained['image_size']} in its hyperparameters), but the config's data serves "
        f"{_shape_text(wanted)} ({name}: {settings}); use a checkpoint trained on images of this "
        "shape, or data settings that match the checkpoint (data.channels, data.image_size)"
    )


def check_input_shape(field: str, path: str, hparams: Mapping[str, Any], stage: Any) -> None:
    """Refuse ``path`` (``field`` = ckpt_path or init_from) if its input shape is not the data's."""
    if not hparams or not any(k in hparams for k, _, _ in SHAPE_FIELDS):
        return
    refused = shape_mismatch(field, path, hparams, served_shape(stage))
    if refused is not None:
        raise refused


def check_model_shape(
    path: str, model_hparams: Mapping[str, Any], saved: Mapping[str, Any]
) -> None:
    """``--ckpt_path last``: the built model's shape (linked from the data) against the file's."""
    mine = {k: model_hparams.get(k) for k, _, _ in SHAPE_FIELDS}
    if any(v is None for v in mine.values()):
        return
    refused = shape_mismatch("ckpt_path", path, saved, ("the data", mine))  # type: ignore[arg-type]
    if refused is not None:
        raise refused
