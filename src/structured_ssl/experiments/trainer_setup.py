"""How every run's Trainer config is completed before anything is built.

The LightningCLI subclass
([`structured_ssl.experiments.lightning_cli`][structured_ssl.experiments.lightning_cli]) calls these
on the
parsed config: TensorBoard run names, logs under ``--trainer.default_root_dir``, the run
directory reused on ``--ckpt_path last``, evaluation logged into the checkpoint's run, the
escnn-aware SyncBatchNorm, atomic checkpoint writes and the resilience callbacks every fit gets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from structured_ssl.callbacks.tb_logging import checkpoint_run
from structured_ssl.groups import short_name_of

DEFAULT_LOG_DIR = "runs"


def follow_default_root_dir(config: Any) -> None:
    """``--trainer.default_root_dir DIR`` moves the logs too, unless the logger's save_dir is set."""
    root = config.trainer.get("default_root_dir")
    logger = config.trainer.get("logger")
    if (
        root is None
        or not hasattr(logger, "get")
        or "TensorBoardLogger" not in str(logger.get("class_path", ""))
    ):
        return
    init_args = logger.get("init_args")
    if init_args is not None and str(init_args.get("save_dir")) == DEFAULT_LOG_DIR:
        init_args["save_dir"] = str(root)


def new_log_dir(trainer: Any) -> Path | None:
    """The run's version directory if this run created it or is about to (None if it existed)."""
    logger = getattr(trainer, "logger", None)
    log_dir = getattr(logger, "log_dir", None) if logger is not None else None
    if log_dir is None:
        return None
    claimed = getattr(logger, "claimed_log_dir", None)  # created by this run's logger: new
    if claimed is not None and Path(claimed) == Path(log_dir):
        return Path(log_dir)
    return None if Path(log_dir).exists() else Path(log_dir)


def remove_if_unused(log_dir: Path | None, trainer: Any) -> None:
    """Remove a version directory this run created if no step ran and no checkpoint is in it."""
    if log_dir is None or not log_dir.is_dir() or getattr(trainer, "global_step", 0) > 0:
        return
    if not getattr(trainer, "is_global_zero", True):
        return
    if any(log_dir.rglob("*.ckpt")):
        return
    import shutil

    shutil.rmtree(log_dir, ignore_errors=True)
    if log_dir.parent.is_dir() and not any(log_dir.parent.iterdir()):
        log_dir.parent.rmdir()  # the run-name directory, if this run was its only version


#: Lightning's TensorBoard logger, as a config names it
PLAIN_TENSORBOARD = (
    "lightning.pytorch.loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger",
)


def claim_versions(config: Any) -> None:
    """A config that names Lightning's TensorBoardLogger gets its subclass
    [`RunTensorBoardLogger`][structured_ssl.callbacks.tb_logging.RunTensorBoardLogger] (same
    arguments), whose
    version folder is claimed atomically: two runs started at once never share one."""
    loggers = config.trainer.get("logger")
    for logger in loggers if isinstance(loggers, (list, tuple)) else [loggers]:
        if hasattr(logger, "get") and str(logger.get("class_path")) in PLAIN_TENSORBOARD:
            logger["class_path"] = "structured_ssl.callbacks.tb_logging.RunTensorBoardLogger"


def use_escnn_aware_sync_batchnorm(config: Any) -> None:
    """``trainer.sync_batchnorm: true`` gets the plugin that also converts escnn's batch norms."""
    if not config.trainer.get("sync_batchnorm"):
        return
    plugins = config.trainer.get("plugins") or []
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if not any("SyncBatchNorm" in str(p) for p in plugins):
        plugins.append({"class_path": "structured_ssl.encoders.sync_batchnorm.EscnnSyncBatchNorm"})
    config.trainer.plugins = plugins


RESILIENCE_CALLBACKS = (
    "structured_ssl.callbacks.resilience.ExactResume",
    "structured_ssl.callbacks.resilience.PreemptionCheckpoint",
    "structured_ssl.callbacks.resilience.FiniteLoss",
)


def add_resilience_callbacks(config: Any) -> None:
    """Every fit gets exact resume, a checkpoint on SIGTERM and a stop on a non-finite loss,
    also with trainer configs that do not list them (those that do keep their own entries)."""
    from jsonargparse import Namespace

    callbacks = config.trainer.get("callbacks") or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    present = " ".join(str(c.get("class_path", c) if hasattr(c, "get") else c) for c in callbacks)
    for class_path in RESILIENCE_CALLBACKS:
        if class_path.rsplit(".", 1)[-1] not in present:
            callbacks.append(Namespace(class_path=class_path, init_args=Namespace()))
    config.trainer.callbacks = callbacks


def use_atomic_checkpoint_io(config: Any) -> None:
    """Checkpoints are written beside their target and renamed into place (see
    [`AtomicCheckpointIO`][structured_ssl.callbacks.resilience.AtomicCheckpointIO]), unless a
    CheckpointIO is configured."""
    strategy = str(config.trainer.get("strategy", "auto")).lower()
    if any(name in strategy for name in ("fsdp", "deepspeed", "xla")):
        return  # these write their own (sharded) checkpoints
    plugins = config.trainer.get("plugins") or []
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if not any("CheckpointIO" in str(p) for p in plugins):
        plugins.append({"class_path": "structured_ssl.callbacks.resilience.AtomicCheckpointIO"})
    config.trainer.plugins = plugins


def reuse_run_directory_on_resume(config: Any) -> None:
    """``--ckpt_path last`` looks for ``last.ckpt`` in the logger's CURRENT version directory;
    a restarted job would get a fresh ``version_N+1`` and silently start from scratch. On resume
    we therefore log into the newest existing version of the run (which holds its checkpoints),
    so a job script can always pass ``--ckpt_path last``, on its first start and after a requeue.
    """
    if config.get("ckpt_path") != "last":
        return
    logger = config.trainer.get("logger")
    if not hasattr(logger, "get"):
        return
    init_args = logger.get("init_args")
    if (
        init_args is None
        or init_args.get("version") is not None
        or init_args.get("save_dir") is None
    ):
        return
    run_dir = Path(str(init_args["save_dir"])) / str(init_args.get("name") or "lightning_logs")
    versions = [
        int(m.group(1))
        for d in (run_dir.iterdir() if run_dir.is_dir() else [])
        if (m := re.fullmatch(r"version_(\d+)", d.name))
        and any((d / "checkpoints").glob("last*.ckpt"))
    ]
    if versions:
        init_args["version"] = max(versions)


def log_into_checkpoint_run(config: Any) -> None:
    """``validate``/``test``/``predict`` of a fit's checkpoint log into THAT fit's run directory
    (one model, one TensorBoard run), unless the logger's ``version`` is set explicitly."""

    logger = config.trainer.get("logger")
    ckpt_path = config.get("ckpt_path")
    if (
        not ckpt_path
        or not hasattr(logger, "get")
        or "TensorBoardLogger" not in str(logger.get("class_path", ""))
    ):
        return
    init_args = logger.get("init_args")
    found = checkpoint_run(str(ckpt_path))
    if init_args is None or found is None or init_args.get("version") is not None:
        return
    init_args["save_dir"], init_args["name"], init_args["version"] = found


def name_tensorboard_run(config: Any) -> None:
    """Give the default TensorBoard logger a name encoding objective, group, loss and seed."""
    logger = config.trainer.get("logger")
    if not isinstance(logger, dict) and not hasattr(logger, "get"):
        return
    if "TensorBoardLogger" not in str(logger.get("class_path", "")):
        return
    init_args = logger.get("init_args") or {}
    if init_args.get("name") not in (None, "lightning_logs", "auto"):
        return
    init_args["name"] = run_name(config)


def dataset_label(config: Any) -> str:
    """``digits``, ``mnist``, ``cifar10``...; an image folder adds its folder's name."""
    data = config.get("data") or {}
    if not hasattr(data, "get"):
        return "data"
    name = str(data.get("class_path") or "data").rsplit(".", 1)[-1].removesuffix("DataModule")
    label = name.lower() or "data"
    folder = (data.get("init_args") or {}).get("data_dir") if label == "imagefolder" else None
    if folder:
        label += "-" + re.sub(r"[^\w.-]+", "_", Path(str(folder)).resolve().name)
    return label


def run_name(config: Any) -> str:
    """e.g. ``StructuredSSL-C8-NTXent-digits-seed0``: runs on two datasets never share a folder.
    (Runs are found by their event files and told apart by their saved config, never by this
    name, so folders named before the dataset was part of it are read as before.)"""
    model = config.get("model") or {}
    objective = str(model.get("class_path", "model")).rsplit(".", 1)[-1]
    args = model.get("init_args") or {}
    group = args.get("group") or {}
    short = short_name_of(group)  # the plug-in's name: C8, D4, T, S6, ...
    encoder = args.get("encoder") or {}
    if hasattr(encoder, "get") and encoder.get("structured") is False:
        short += "-unstructured"
    loss = args.get("loss") or {}
    loss_name = (
        str(loss.get("class_path", "NTXent")).rsplit(".", 1)[-1]
        if hasattr(loss, "get")
        else "NTXent"
    )
    seed = config.get("seed_everything")
    return f"{objective}-{short}-{loss_name}-{dataset_label(config)}-seed{seed}"


#: Trainer settings whose meaning flips with the type: an int counts batches, a float is a
#: fraction (``limit_train_batches=1`` is one batch, ``1.0`` all of them)
COUNT_OR_FRACTION = (
    "limit_train_batches",
    "limit_val_batches",
    "limit_test_batches",
    "limit_predict_batches",
    "overfit_batches",
    "val_check_interval",
)


def parse_counts_as_written(parser: Any) -> None:
    """``--trainer.limit_train_batches=1`` reaches the Trainer as the int 1 (one batch), 1.0 as
    the float (all), on the command line and in YAML.

    Why: jsonargparse tries a union's types in order and turns an int into a float when float
    comes first. Lightning writes ``Optional[Union[int, float]]``, but ``typing`` caches unions
    regardless of order, and a ``Union[float, int]`` built earlier by an import (lightning's own)
    is the one the Trainer's signature holds: 1 became 1.0, every batch. The argument's type is
    rebuilt here as an (uncached) ``int | float | ...`` with ``int`` first; the allowed types
    are unchanged.
    """
    import functools
    import operator

    for key in COUNT_OR_FRACTION:
        argument = parser._option_string_actions.get(f"--trainer.{key}")  # a parser action
        subtypes = tuple(getattr(getattr(argument, "_typehint", None), "__args__", ()))
        if int not in subtypes or float not in subtypes:
            continue
        ordered = (int, *(t for t in subtypes if t is not int))
        argument._typehint = functools.reduce(operator.or_, ordered)
