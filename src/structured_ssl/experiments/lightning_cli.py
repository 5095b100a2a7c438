"""The LightningCLI subclass every run goes through, and the function that runs it.

``structured-ssl fit|validate|test|predict`` (`structured_ssl.cli.main`), the grid's run
worker ([`structured_ssl.experiments.runs`][structured_ssl.experiments.runs]) and ``check`` (which
builds models without training) all use
[`StructuredSSLCLI`][structured_ssl.experiments.lightning_cli.StructuredSSLCLI]: data-derived sizes
(channels, image size, classes) are linked into the model when the DataModule is instantiated, bad
settings are one line (exit 2), and the Trainer config is completed by
[`structured_ssl.experiments.trainer_setup`][structured_ssl.experiments.trainer_setup]. It lives in
the experiments layer so that the runner needs nothing from the ``cli`` module.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from structured_ssl.callbacks.prediction_writer import add_prediction_writer, check_predict
from structured_ssl.callbacks.write_faults import fault_in
from structured_ssl.config.cli_errors import input_error_in, is_setting_error, one_line
from structured_ssl.config.config_checks import ConfigError, check_config, check_fit
from structured_ssl.config.input_checks import check_prediction_folders
from structured_ssl.data.any_dataset import refuse_evaluation_without_labels
from structured_ssl.data.base import ImageDataModule
from structured_ssl.experiments.resume_checks import (
    add_init_from_argument,
    guard_late_checkpoint,
    guard_resume,
    refuse_finished_last,
    start_from_weights,
    with_saved_config,
)
from structured_ssl.experiments.run_config import RunConfigSaver
from structured_ssl.experiments.trainer_setup import (
    DEFAULT_LOG_DIR,
    add_resilience_callbacks,
    claim_versions,
    follow_default_root_dir,
    log_into_checkpoint_run,
    name_tensorboard_run,
    new_log_dir,
    parse_counts_as_written,
    remove_if_unused,
    reuse_run_directory_on_resume,
    use_atomic_checkpoint_io,
    use_escnn_aware_sync_batchnorm,
)
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.checkpoints import follow_checkpoint_dirpath, merge_ckpt_hparams_safely


class StructuredSSLCLI(LightningCLI):
    """LightningCLI with data->model links, TensorBoard run names and config checks."""

    #: whether the command reads the dataset (its files are checked before the build);
    #: ``structured-ssl check`` builds a model only and sets this to False
    reads_data_files: bool = True

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
        parse_counts_as_written(parser)

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse as LightningCLI does, then check the settings; a bad one is ONE line, exit 2.

        Runs before the seed is set and before anything is built, so the error line is the
        only thing printed (see
        [`structured_ssl.config.cli_errors`][structured_ssl.config.cli_errors] and
        [`check_config`][structured_ssl.config.config_checks.check_config]).
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
        self._checked(
            check_config, config, fit=subcommand in (None, "fit"), data_files=self.reads_data_files
        )
        if subcommand == "predict":
            self._checked(check_predict, config)

    def _parse_ckpt_path(self) -> None:
        """Lightning copies ``--ckpt_path``'s hyperparameters into the config: read them safely,
        and only after checking they change no model setting
        ([`structured_ssl.experiments.resume_checks`][structured_ssl.experiments.resume_checks])."""
        merge = super()._parse_ckpt_path
        guard_resume(self, lambda: merge_ckpt_hparams_safely(self, merge))

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        claim_versions(config)
        name_tensorboard_run(config)
        follow_default_root_dir(config)
        reuse_run_directory_on_resume(config)
        if self.subcommand in (None, "fit"):
            refuse_finished_last(config)
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

        refused = refuse_evaluation_without_labels(self.subcommand, self.datamodule, self.trainer)
        if refused is not None:
            fail(refused)

    def _run_subcommand(self, subcommand: str) -> None:
        """Run it; a command that fails before its first step leaves no empty version directory."""
        log_dir = new_log_dir(self.trainer)  # a version folder this command claimed
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

    before_test = before_validate

    def before_predict(self) -> None:
        """As ``before_validate``; then the writers' folders are checked before inference."""
        self.before_validate()

        self._checked(check_prediction_folders, self.trainer)

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


class _DropLitLoggerTip(logging.Filter):
    """Lightning 2.6 prints an advertisement for its cloud logger on every Trainer start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


def silence_known_noise() -> None:
    """Messages a user cannot act on: the litlogger tip, Lightning 2.6's own use of a pytree
    API that torch >= 2.10 deprecates (Lightning's code, not ours; silenced on import too,
    structured_ssl/__init__.py, for the Python route), and Lightning's "srun is
    available but not used" hint, printed on every local run of a machine with SLURM
    installed (a login node, CI): cluster runs go through ``grid --launcher slurm``, which
    starts each task under srun itself (docs/guides/cluster.md, "Running on a cluster")."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings(
        "ignore", message=r".*The `srun` command is available on your system but is not used.*"
    )
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLitLoggerTip) for f in logger.filters):
            logger.addFilter(_DropLitLoggerTip())


def run_lightning_cli(argv: list[str], from_command_line: bool = False) -> None:
    """Run a Lightning subcommand (``fit``, ``validate``, ``test``, ``predict``) on ``argv``.

    ``argv`` has its ``--config NAME`` already resolved (`resolve_config_args`);
    ``from_command_line``: LightningCLI reads ``sys.argv`` itself (no ``args=`` warning)."""
    silence_known_noise()
    own_argv = sys.argv
    if not from_command_line:
        # called from Python (a notebook, a script): the process's own argv (a Jupyter kernel's
        # `-f kernel.json`) is not a command line for us, and LightningCLI warns when it sees both
        sys.argv = sys.argv[:1]
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
            save_config_callback=RunConfigSaver,  # each command its own config file, never over another's
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
    except FloatingPointError as error:
        # FiniteLoss's (and the linear evaluation's) own message says where, what, and which
        # checkpoint is intact; Lightning's 99-line traceback only hid it (a run failure: exit 1)
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except Exception as error:
        fault = fault_in(error)  # a file the run writes was refused by the file system
        if fault is not None:
            print(f"error: {' '.join(str(fault).split())}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        refused = input_error_in(
            error
        )  # jsonargparse and Lightning wrap errors of __init__ and hooks
        if refused is None:
            raise
        print(f"error: {' '.join(str(refused).split())}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        sys.argv = own_argv
