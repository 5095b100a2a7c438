"""`structured-ssl`: the LightningCLI entry point, plus a few project subcommands.

Lightning's own subcommands (fit, validate, test, predict) choose model and data by
``class_path`` in YAML; data-derived sizes (channels, image size, classes) are linked into the
model when the DataModule is instantiated. Project subcommands (compare, grid, report) are
dispatched before LightningCLI sees the arguments.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from structured_ssl.callbacks.prediction_writer import add_prediction_writer
from structured_ssl.cli_help import answer_before_dispatch
from structured_ssl.config.cli_errors import input_error_in, is_setting_error, one_line
from structured_ssl.config.config_checks import ConfigError, check_config, check_fit
from structured_ssl.config.shipped_configs import read_config_files, resolve_config_args
from structured_ssl.data.base import ImageDataModule
from structured_ssl.groups import short_name_of
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.checkpoints import follow_checkpoint_dirpath, merge_ckpt_hparams_safely
from structured_ssl.resume_checks import (
    add_init_from_argument,
    guard_late_checkpoint,
    guard_resume,
    start_from_weights,
    with_saved_config,
)

DEFAULT_LOG_DIR = "runs"

PROJECT_COMMANDS = {
    "check": "structured_ssl.experiments.check:main",
    "compare": "structured_ssl.reporting.accuracy_time:compare_main",
    "grid": "structured_ssl.experiments.grid:main",
    "report": "structured_ssl.reporting.report:main",
    "study": "structured_ssl.experiments.study:main",
    "configs": "structured_ssl.config.shipped_configs:list_main",
    "reproduce": "structured_ssl.experiments.reproduce:main",
}


class StructuredSSLCLI(LightningCLI):
    """LightningCLI with data->model links, TensorBoard run names and config checks."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        for source, target in (
            ("channels", "in_channels"),
            ("image_size", "image_size"),
            ("num_classes", "num_classes"),
        ):
            parser.link_arguments(
                f"data.{source}", f"model.init_args.{target}", apply_on="instantiate"
            )
        add_init_from_argument(parser)

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse as LightningCLI does, then check the settings; a bad one is ONE line, exit 2.

        Runs before the seed is set and before anything is built, so the error line is the
        only thing printed (see :mod:`structured_ssl.config.cli_errors` and :func:`check_config`).
        """
        action = getattr(parser, "_subcommands_action", None)
        parsers = [parser, *(action._name_parser_map.values() if action is not None else [])]
        before = [p.exit_on_error for p in parsers]
        for p in parsers:
            p.exit_on_error = False
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:
            fail(one_line(str(error)))
        finally:
            for p, value in zip(parsers, before, strict=True):
                p.exit_on_error = value
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self._checked(check_config, config, fit=subcommand in (None, "fit"))

    def _parse_ckpt_path(self) -> None:
        """Lightning copies ``--ckpt_path``'s hyperparameters into the config: read them safely,
        and only after checking they change no model setting (:mod:`structured_ssl.resume_checks`)."""
        merge = super()._parse_ckpt_path
        guard_resume(self, lambda: merge_ckpt_hparams_safely(self, merge))

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        name_tensorboard_run(config)
        follow_default_root_dir(config)
        reuse_run_directory_on_resume(config)
        if self.subcommand in ("validate", "test", "predict"):
            log_into_checkpoint_run(config)
        use_escnn_aware_sync_batchnorm(config)
        use_atomic_checkpoint_io(config)
        if self.subcommand in (None, "fit"):
            add_resilience_callbacks(config)
        if self.subcommand == "predict":
            add_prediction_writer(config)

    def instantiate_classes(self) -> None:
        """A data module's or model's own argument check (``field=value ...``) is one line too."""
        try:
            super().instantiate_classes()
        except ValueError as error:
            if not is_setting_error(str(error)):
                raise
            fail(one_line(str(error)))
        from structured_ssl.data.any_dataset import refuse_evaluation_without_labels

        refused = refuse_evaluation_without_labels(self.subcommand, self.datamodule, self.trainer)
        if refused is not None:
            fail(refused)

    def _run_subcommand(self, subcommand: str) -> None:
        """Run it; a fit that fails before its first step leaves no empty version directory."""
        log_dir = new_log_dir(self.trainer) if subcommand == "fit" else None
        stage = self.config[subcommand]
        try:
            if stage.get("ckpt_path") and not Path(str(stage.get("ckpt_path"))).is_file():
                guard_late_checkpoint(self.model, subcommand)  # ``last``: the file is found later
            if subcommand == "fit":
                start_from_weights(self.model, stage.get("init_from"))
            super()._run_subcommand(subcommand)
        except BaseException:
            remove_if_unused(log_dir, self.trainer)
            raise

    def before_validate(self) -> None:
        follow_checkpoint_dirpath(self.trainer, self.config[self.subcommand].get("ckpt_path"))

    before_test = before_predict = before_validate

    def before_fit(self) -> None:
        """Checks that need the built model, data and trainer; no step has run yet."""
        self._checked(check_fit, self.model, self.datamodule, self.trainer)

    def _checked(self, check: Any, *args: Any, **kwargs: Any) -> None:
        """Run a config check; a failure is a one-line CLI error (exit code 2), not a traceback."""
        try:
            check(*args, **kwargs)
        except ConfigError as error:
            fail(str(error))


def fail(message: str) -> None:
    """The CLI's answer to a bad setting: one line on stderr, exit status 2 (a usage error)."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None


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
    """The run's version directory if this run is about to create it (None if it exists)."""
    logger = getattr(trainer, "logger", None)
    log_dir = getattr(logger, "log_dir", None) if logger is not None else None
    if log_dir is None or Path(log_dir).exists():
        return None
    return Path(log_dir)


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
    :class:`~structured_ssl.callbacks.resilience.AtomicCheckpointIO`), unless a CheckpointIO is configured."""
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
    from structured_ssl.callbacks.tb_logging import checkpoint_run

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


def run_name(config: Any) -> str:
    """e.g. ``StructuredSSL-C8-NTXent-seed0``."""
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
    return f"{objective}-{short}-{loss_name}-seed{seed}"


class _DropLitLoggerTip(logging.Filter):
    """Lightning 2.6 prints an advertisement for its cloud logger on every Trainer start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


def silence_known_noise() -> None:
    """Messages a user cannot act on: the litlogger tip, Lightning 2.6's own use of a pytree
    API that torch >= 2.10 deprecates (Lightning's code, not ours), and Lightning's "srun is
    available but not used" hint, printed on every local run of a machine with SLURM
    installed (a login node, CI): cluster runs go through ``grid --launcher slurm``, which
    starts each task under srun itself (README "Running on a cluster")."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings(
        "ignore", message=r".*The `srun` command is available on your system but is not used.*"
    )
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLitLoggerTip) for f in logger.filters):
            logger.addFilter(_DropLitLoggerTip())


def main(argv: list[str] | None = None) -> None:
    from_command_line = argv is None  # then LightningCLI reads sys.argv itself (no args= warning)
    argv = list(sys.argv[1:] if argv is None else argv)
    status = answer_before_dispatch(argv)  # --help, --version, no command, a typo
    if status is not None:
        raise SystemExit(status)
    argv = resolve_config_args(argv)  # `--config NAME`: a shipped config, from any directory
    try:
        argv = read_config_files(argv)  # YAML errors with file:line:col; empty overlays dropped
    except ConfigError as error:
        fail(str(error))
    if from_command_line:
        sys.argv[1:] = argv
    if argv and argv[0] in PROJECT_COMMANDS:
        import importlib

        module_name, func = PROJECT_COMMANDS[argv[0]].split(":")
        getattr(importlib.import_module(module_name), func)(argv[1:])
        return
    silence_known_noise()
    try:
        resumed = with_saved_config(
            argv
        )  # ``fit --ckpt_path FILE`` alone: the run's own config.yaml
        if resumed != argv:
            from_command_line, argv = False, resumed
            warnings.filterwarnings(
                "ignore", message=".*args parameter is intended to run from within Python.*"
            )
        StructuredSSLCLI(
            SSLMethod,
            ImageDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={
                "logger": {
                    "class_path": "structured_ssl.callbacks.tb_logging.RunTensorBoardLogger",
                    "init_args": {"save_dir": DEFAULT_LOG_DIR, "default_hp_metric": False},
                },
            },
            args=None if from_command_line else argv,
            auto_configure_optimizers=False,
        )
    except SIGTERMException:
        # Lightning stops a SIGTERM'd run with exit status 0, which a scheduler reads as "finished"
        # and does not restart; exit as a process killed by SIGTERM does (the checkpoint is saved).
        raise SystemExit(128 + signal.SIGTERM) from None
    except Exception as error:
        refused = input_error_in(
            error
        )  # jsonargparse and Lightning wrap errors of __init__ and hooks
        if refused is None:
            raise
        print(f"error: {' '.join(str(refused).split())}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
