"""TensorBoard's HParams tab: a run's hyperparameters as plain values, WITH its final metrics.

Split from ``online_eval.py`` (which evaluates the encoder during training): this module only
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
        if isinstance(value.get("class_path"), str) and set(value) <= {"class_path", "init_args", "dict_kwargs"}:
            # a jsonargparse class node, e.g. the loss
            args = value.get("init_args") or {}
            return {"class": str(value["class_path"]).rsplit(".", 1)[-1], **{k: plain_value(v) for k, v in dict(args).items()}}
        return {str(k): plain_value(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, nn.Module):
        return type(value).__name__
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, (list, tuple)):
        return str(list(value))
    return str(value)


def final_metrics(metrics: Mapping[str, Any], prefix: str = HPARAMS_PREFIX) -> dict[str, float]:
    """Finite scalar metrics, renamed under ``prefix`` so the copies logged for the HParams
    tab do not add a point to the real curves (``log_hyperparams`` logs them as scalars)."""

    return {prefix + name: number for name, number in scalar_metrics(dict(metrics)).items() if not name.startswith(prefix)}


class HParamsWithMetrics(L.Callback):
    """At the end of fit and of test, log the run's hyperparameters WITH its final metrics.

    Parameters: the model's ``hparams`` (plus ``objective``, the model class) and the data
    module's (under ``data``). Metrics: every finite scalar in ``trainer.callback_metrics``,
    as ``hparams/<metric>`` (e.g. ``hparams/val/probe_acc``). Requires the logger's
    ``default_hp_metric=False`` (the CLI's default); otherwise the HParams tab shows only the
    placeholder ``hp_metric``.

    TensorBoard takes a run's HParams columns from the FIRST hyperparameter summary it finds
    (and one run's columns for the whole log directory), so the fit-end summary also declares
    the ``expected`` metrics not known yet (e.g. test accuracies from a later ``test`` into the
    same run directory) with a NaN placeholder; the values logged later then fill the column.

    Args:
        expected: metric names to declare at fit end even when not logged yet.
    """

    def __init__(self, expected: list[str] | None = None) -> None:
        self.expected = list(expected or [])

    def params(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        params: dict[str, Any] = {"objective": type(pl_module).__name__}
        params.update(plain_value(dict(pl_module.hparams)))
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None and getattr(datamodule, "hparams", None):
            params["data"] = {"class": type(datamodule).__name__, **plain_value(dict(datamodule.hparams))}
        return params

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule, metrics: dict[str, float]) -> None:
        if not metrics:
            return
        params = self.params(trainer, pl_module)
        for logger in trainer.loggers:
            if getattr(logger, "_default_hp_metric", False):
                rank_zero_warn("HParamsWithMetrics: set the TensorBoardLogger's default_hp_metric=False")
            # TensorBoardLogger also merges ``params`` into the hparams.yaml it saves; keep that
            # file as Lightning wrote it (loadable with ``hparams_file``), this copy is for display.
            saved = dict(logger.hparams) if isinstance(getattr(logger, "hparams", None), dict) else None
            logger.log_hyperparams(params, metrics=metrics)
            if saved is not None:
                logger.hparams = saved

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = final_metrics(trainer.callback_metrics)
        for name in self.expected:
            metrics.setdefault(HPARAMS_PREFIX + name, float("nan"))
        self._log(trainer, pl_module, metrics)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, final_metrics(trainer.callback_metrics))
