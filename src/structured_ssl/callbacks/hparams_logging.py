"""TensorBoard's HParams tab: a run's hyperparameters as plain values, WITH its final metrics.

Apart from ``online_eval`` (which evaluates the encoder during training): this module only
reports what the run was and how it ended.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

HPARAMS_PREFIX = "hparams/"


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Lightning's metric dict as plain floats (tensors and numbers; others skipped)."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):
            continue
        if math.isfinite(number):
            out[name] = number
    return out


def plain_value(value: Any) -> Any:
    """Hyperparameters as TensorBoard can show them: dataclasses and mappings become plain
    dicts (Lightning flattens them to ``group/kind``), modules their class name, sequences
    and None strings, numbers and strings stay."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        if isinstance(value.get("class_path"), str) and set(value) <= {
            "class_path",
            "init_args",
            "dict_kwargs",
        }:
            # a jsonargparse class node, e.g. the loss
            args = value.get("init_args") or {}
            return {
                "class": str(value["class_path"]).rsplit(".", 1)[-1],
                **{k: plain_value(v) for k, v in dict(args).items()},
            }
        return {str(k): plain_value(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, nn.Module):
        return type(value).__name__
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, (list, tuple)):
        return str(list(value))
    return str(value)


#: hyperparameters the HParams table shows by default (TensorBoard shows the first five,
#: those marked ``differs`` first): what the run is, in the words of the paper's tables
KEY_HPARAMS = ("objective", "group/kind", "group/order", "loss/class", "data/class")
#: metric columns, in this order (TensorBoard shows the first five): the final linear
#: accuracies first (at fit end, then from a later ``test``), the online numbers after
KEY_METRICS = (
    "z_summary/run_test_linear_acc",
    "test/linear_acc",
    "test_rotated/linear_acc",
    "val/probe_acc",
    "val/knn_acc",
    "val/equivariance_error",
    "z_summary/frozen_test_linear_acc",
    "z_summary/pixels_test_linear_acc",
)


def final_metrics(metrics: Mapping[str, Any], prefix: str = HPARAMS_PREFIX) -> dict[str, float]:
    """Finite scalar metrics (names as logged), dropping copies under ``prefix`` that older
    versions of this module logged for the HParams tab."""

    return {
        name: number
        for name, number in scalar_metrics(dict(metrics)).items()
        if not name.startswith(prefix)
    }


def metric_columns(logged: list[str], expected: list[str]) -> list[str]:
    """The HParams table's metric columns: `KEY_METRICS`, then ``expected``, then the
    other logged metrics, each once."""
    return list(dict.fromkeys([*KEY_METRICS, *expected, *sorted(logged)]))


def hparams_summaries(params: Mapping[str, Any], metrics: list[str]) -> list[Any]:
    """The three summaries of TensorBoard's HParams plugin (experiment, session start, session
    end) for ``params`` (flat) and the metric columns ``metrics``.

    No metric VALUE is written: a column names a scalar tag the run logs anyway, and the
    plugin shows its last value, so the scalar pages get no one-point copies. The key
    hyperparameters come first and are marked ``differs``, which TensorBoard's table sorts
    first and shows by default.
    """
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from torch.utils.tensorboard.summary import hparams

    ordered = {k: params[k] for k in KEY_HPARAMS if k in params} | {
        k: params[k] for k in sorted(params)
    }
    experiment, start, end = hparams(ordered, dict.fromkeys(metrics, 0.0))
    content = experiment.value[0].metadata.plugin_data
    data = HParamsPluginData.FromString(content.content)
    for info in data.experiment.hparam_infos:
        info.differs = info.name in KEY_HPARAMS
    content.content = data.SerializeToString()
    return [experiment, start, end]


class HParamsWithMetrics(L.Callback):
    """At the end of fit and of test, log the run's hyperparameters for TensorBoard's HParams tab.

    Parameters: the model's ``hparams`` (plus ``objective``, the model class) and the data
    module's (under ``data``). Metric columns: `KEY_METRICS` (final linear accuracy first),
    ``expected``, then every finite scalar in ``trainer.callback_metrics``; their values are the
    runs' own scalars (a later ``test`` of the fit's checkpoint logs into the same run and fills
    the test columns). Nothing is logged as a scalar here. Requires the logger's
    ``default_hp_metric=False`` (the CLI's default); otherwise the HParams tab shows only the
    placeholder ``hp_metric``.

    Args:
        expected: metric names to declare as columns even when not logged yet.
    """

    def __init__(self, expected: list[str] | None = None) -> None:
        self.expected = list(expected or [])

    def params(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        params: dict[str, Any] = {"objective": type(pl_module).__name__}
        params.update(plain_value(dict(pl_module.hparams)))
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None:
            params["data"] = {
                "class": type(datamodule).__name__,
                **plain_value(dict(getattr(datamodule, "hparams", {}))),
            }
        return params

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
        from lightning.pytorch.loggers import TensorBoardLogger

        columns = metric_columns(list(final_metrics(trainer.callback_metrics)), self.expected)
        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                continue
            if getattr(logger, "_default_hp_metric", False):
                rank_zero_warn(
                    "HParamsWithMetrics: set the TensorBoardLogger's default_hp_metric=False"
                )
            params = logger._sanitize_params(
                _flatten_dict(_convert_params(self.params(trainer, pl_module)))
            )
            writer = logger.experiment._get_file_writer()
            for summary in hparams_summaries(params, columns):
                writer.add_summary(summary, trainer.global_step)
            writer.flush()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._log(trainer, pl_module)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._log(trainer, pl_module)
