"""Checks that a run can work, made BEFORE anything trains, each naming the field and value.

A bad setting should cost seconds, not a queued cluster job that dies at step 1 with a shape
error from inside escnn or a batch-norm assertion. Every check is a small function that raises
[`ConfigError`][structured_ssl.config.field_checks.ConfigError] with the field's name (as the config
spells it), the value given and what is allowed. They run at three points:

* [`check_config`][structured_ssl.config.config_checks.check_config] on the parsed config, before
  LightningCLI builds anything (``StructuredSSLCLI.parse_arguments``): plain values only, nothing
      built yet; it starts with
  the table of single-field rules in
  [`structured_ssl.config.field_checks`][structured_ssl.config.field_checks];
* [`check_model_settings`][structured_ssl.config.model_checks.check_model_settings] at the top of
  ``SSLMethod.__init__``: the same model checks for models built from Python rather than the CLI;
* [`check_fit`][structured_ssl.config.config_checks.check_fit] once model, data and trainer exist
  (``StructuredSSLCLI.before_fit``): what needs built objects (the encoder's real fiber grid, the
  resolved number of processes, the data module's files).

Some checks live where their values are defined and are reused here rather than repeated:
``Group.__post_init__`` (group.kind, group.order, group.scales), ``PairSampling.__post_init__``
(pairs.*), ``FiberGrid.validate`` (pairs.g0_size on a built grid), ``allowed_pairs``
(pairs.max_distance with allow_same_position) and the DataModules' own argument checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from structured_ssl.config.data_checks import (
    check_data_dir,
    check_data_matches_model,
    check_train_size,
    data_channels,
)
from structured_ssl.config.field_checks import (
    ConfigError,
    check_data_arguments,
    check_fields,
    init_parameters,
)
from structured_ssl.config.field_checks import import_class as _import
from structured_ssl.config.input_checks import check_inputs
from structured_ssl.config.model_checks import (
    check_image_size,
    check_model_settings,
    check_pairs_on_grid,
)
from structured_ssl.config.own_encoder_checks import check_own_encoder
from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group
from structured_ssl.ssl.augmentation import check_max_shift_fraction
from structured_ssl.ssl.losses import NTXent
from structured_ssl.ssl.pairs import FiberGrid, PairSampling

if TYPE_CHECKING:
    import lightning as L

    from structured_ssl.encoders.factory import EncoderSpec


# --------------------------------------------------------------------------- batch size
def check_batch_size(
    batch_size: int,
    pairs_per_image: int,
    processes: int | None,
    loss: Any,
    uses_pairs: bool = True,
    processes_from: str = "trainer.devices x trainer.num_nodes",
) -> None:
    """Per process: batch norms (projector, probe) need 2 rows. Globally: what the loss needs.

    ``processes`` is None when the device count is not known yet (``devices: auto``); the
    global check then waits for [`check_fit`][structured_ssl.config.config_checks.check_fit].
    """
    if batch_size < 2:
        raise ConfigError(
            f"data.batch_size={batch_size} is too small: it is the per-process batch, and the batch "
            "norms of the probe and projector need at least 2 examples per process"
        )
    if not uses_pairs or loss is None or processes is None:
        return
    needed = int(getattr(loss, "min_global_batch", 2))
    rows = batch_size * pairs_per_image * processes
    if rows < needed:
        reason = getattr(loss, "min_batch_reason", "batch statistics")
        name = loss.__name__ if isinstance(loss, type) else type(loss).__name__
        raise ConfigError(
            f"data.batch_size={batch_size} is too small for {name}: "
            f"{batch_size} x pairs.pairs_per_image={pairs_per_image} x {processes} process(es) "
            f"({processes_from}) = {rows} pairs per step, but it needs at least {needed} ({reason})"
        )


# --------------------------------------------------------------------------- entry points
def _get(node: Any, key: str, default: Any = None) -> Any:
    if node is None:
        return default
    if isinstance(node, Mapping) or hasattr(node, "get"):
        return node.get(key, default)
    return getattr(node, key, default)


def _as_dict(node: Any) -> dict[str, Any]:
    if node is None:
        return {}
    if hasattr(node, "as_dict"):
        return dict(node.as_dict())
    if isinstance(node, Mapping):
        return dict(node)
    return dict(vars(node))


def configured_processes(trainer: Any) -> int | None:
    """devices x num_nodes when both are plain numbers or lists (None for "auto" and -1)."""
    devices, nodes = _get(trainer, "devices", "auto"), _get(trainer, "num_nodes", 1)
    if isinstance(devices, (list, tuple)):
        count = len(devices)
    elif isinstance(devices, str) and "," in devices:
        count = len([d for d in devices.split(",") if d.strip()])
    else:
        try:
            count = int(devices)
        except (TypeError, ValueError):
            return None
    if count < 1 or not isinstance(nodes, int):
        return None
    return count * nodes


def _model_kwargs(model: Any, init: Any) -> dict[str, Any]:
    """The settings a model class would get, as objects (their own checks run on construction)."""

    def build(cls: type, key: str) -> Any:
        value = _get(init, key)
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        try:
            return cls(**_as_dict(value))
        except ValueError as error:  # Group / PairSampling name their field and value
            raise ConfigError(str(error)) from None

    explicit_none = init is not None and "group" in _as_dict(init) and _get(init, "group") is None
    group = None if explicit_none else build(Group, "group")
    own = _get(_get(init, "encoder"), "class_path") is not None  # a module named by class path
    return {
        "group": group,
        "encoder": None if own else build(EncoderSpec, "encoder"),
        "pairs": build(PairSampling, "pairs"),
    }


def check_config(config: Any, fit: bool = True, data_files: bool = True) -> None:
    """Checks on the parsed (not yet instantiated) config: single fields, then the model's and
    the batch's cross-field rules (batch sizes only when ``fit``), then the data module's own
    argument checks on a trial instance, then files and folders (the dataset's files only when
    ``data_files``: ``check`` builds a model from a config and never reads the dataset)."""
    check_fields(config)
    check_model_config(config, fit)
    check_data_arguments(config)
    check_inputs(config, data_files=data_files)


def check_model_config(config: Any, fit: bool = True) -> None:
    """The model's settings on the parsed config (only for SSLMethod objectives)."""
    model, data, trainer = _get(config, "model"), _get(config, "data"), _get(config, "trainer")
    method = _import(str(_get(model, "class_path", ""))) if model is not None else None
    if not (isinstance(method, type) and getattr(method, "takes_model_settings", False)):
        return  # other models (e.g. linear evaluation) take none of these settings
    init = _get(model, "init_args")
    data_init = _get(data, "init_args")
    settings = _model_kwargs(model, init)
    image_size = _data_image_size(data)
    shift = _get(init, "max_shift_fraction")
    if shift is not None:
        try:
            check_max_shift_fraction(float(shift))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    check_model_settings(
        method,
        settings["group"],
        settings["encoder"],
        settings["pairs"],
        image_size,
        data_channels(data),
    )
    if settings["encoder"] is None:
        check_own_encoder(_get(init, "encoder"), settings["group"])  # a class the user names
    batch_size = _get(data_init, "batch_size")
    if batch_size is None or not fit:
        return
    loss = _loss_class(_get(init, "loss"))
    processes = configured_processes(trainer)
    check_batch_size(
        int(batch_size),
        settings["pairs"].pairs_per_image,
        processes,
        loss,
        getattr(method, "uses_pairs", True),
    )
    if processes is not None:
        check_train_size(_get(data_init, "train_subset"), processes)


def _data_image_size(data: Any) -> int | None:
    """The image side the data module will serve: its init argument, or that argument's default
    (None when the class takes no such argument;
    [`check_fit`][structured_ssl.config.config_checks.check_fit] then checks the built model)."""
    value = _get(_get(data, "init_args"), "image_size")
    if value is not None:
        return int(value)
    cls = _import(str(_get(data, "class_path", "")))
    if cls is None:
        return None
    parameter = init_parameters(cls).get("image_size")
    if parameter is None or not isinstance(parameter.default, int):
        return None
    return parameter.default


def _loss_class(loss: Any) -> Any:
    """The loss's class (its ClassVars say what batch it needs), from a config node or object."""
    if loss is None:
        return NTXent
    class_path = _get(loss, "class_path")
    if class_path is None:
        return loss
    return _import(str(class_path))


def check_fit(model: L.LightningModule, datamodule: Any, trainer: L.Trainer) -> None:
    """Checks that need the built model, data module and trainer (before ``trainer.fit``)."""
    check_data_dir(datamodule)
    if datamodule is not None:
        check_data_matches_model(datamodule, model)
    spec, image_size = getattr(model, "encoder_spec", None), getattr(model, "image_size", None)
    if spec is not None and image_size is not None:
        check_image_size(image_size, spec)
    batch_size = getattr(datamodule, "batch_size", None)
    uses_pairs = getattr(model, "uses_pairs", True)
    if batch_size is not None:
        sampling = getattr(model, "pair_sampling", PairSampling())
        check_batch_size(
            int(batch_size),
            sampling.pairs_per_image,
            trainer.world_size,
            getattr(model, "loss_fn", None),
            uses_pairs,
            processes_from=f"{trainer.num_devices} device(s) x {trainer.num_nodes} node(s)",
        )
        check_train_size(getattr(datamodule, "train_subset", None), trainer.world_size)
    grid = getattr(model, "grid", None)
    group = getattr(model, "group", None)
    if isinstance(grid, FiberGrid) and group is not None:
        pairs = getattr(model, "pair_sampling", PairSampling())
        check_pairs_on_grid(
            grid.shape,
            grid.cyclic,
            pairs,
            group.kind,
            type(model),
            getattr(model, "image_size", None),
        )
