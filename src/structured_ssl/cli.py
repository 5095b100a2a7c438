"""`structured-ssl`: the LightningCLI entry point, plus a few project subcommands.

Lightning's own subcommands (fit, validate, test, predict) choose model and data by
``class_path`` in YAML; data-derived sizes (channels, image size, classes) are linked into the
model when the DataModule is instantiated. Project subcommands (compare, grid, report) are
dispatched before LightningCLI sees the arguments.
"""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.cli import LightningCLI

from structured_ssl.data.base import ImageDataModule
from structured_ssl.methods.base import SSLMethod

DEFAULT_LOG_DIR = "runs"

PROJECT_COMMANDS = {
    "compare": "structured_ssl.compare:main",
    "grid": "structured_ssl.grid:main",
    "report": "structured_ssl.report:main",
}


class StructuredSSLCLI(LightningCLI):
    """LightningCLI with data->model links, TensorBoard run names and config checks."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        for source, target in (("channels", "in_channels"), ("image_size", "image_size"), ("num_classes", "num_classes")):
            parser.link_arguments(f"data.{source}", f"model.init_args.{target}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        name_tensorboard_run(config)
        use_escnn_aware_sync_batchnorm(config)


def use_escnn_aware_sync_batchnorm(config: Any) -> None:
    """``trainer.sync_batchnorm: true`` gets the plugin that also converts escnn's batch norms."""
    if not config.trainer.get("sync_batchnorm"):
        return
    plugins = config.trainer.get("plugins") or []
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    if not any("SyncBatchNorm" in str(p) for p in plugins):
        plugins.append({"class_path": "structured_ssl.sync_batchnorm.EscnnSyncBatchNorm"})
    config.trainer.plugins = plugins


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
    kind = group.get("kind", "rotation") if hasattr(group, "get") else "rotation"
    order = group.get("order", 8) if hasattr(group, "get") else 8
    scales = group.get("scales") if hasattr(group, "get") else None
    short = {"rotation": f"C{order}", "dihedral": f"D{order}", "translation": "T", "scale": f"S{len(scales or [0] * 6)}"}.get(
        kind, str(kind)
    )
    encoder = args.get("encoder") or {}
    if hasattr(encoder, "get") and encoder.get("structured") is False:
        short += "-unstructured"
    loss = args.get("loss") or {}
    loss_name = str(loss.get("class_path", "NTXent")).rsplit(".", 1)[-1] if hasattr(loss, "get") else "NTXent"
    seed = config.get("seed_everything")
    return f"{objective}-{short}-{loss_name}-seed{seed}"


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PROJECT_COMMANDS:
        import importlib

        module_name, func = PROJECT_COMMANDS[argv[0]].split(":")
        getattr(importlib.import_module(module_name), func)(argv[1:])
        return
    StructuredSSLCLI(
        SSLMethod,
        ImageDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "logger": {
                "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                "init_args": {"save_dir": DEFAULT_LOG_DIR, "default_hp_metric": False},
            },
        },
        args=argv,
        auto_configure_optimizers=False,
    )


if __name__ == "__main__":
    main()
