"""TensorBoard runs that compare: one directory per trained model, curves first.

Two decisions live here, both about where and under which tag a value lands:

* [`RunTensorBoardLogger`][structured_ssl.callbacks.tb_logging.RunTensorBoardLogger] logs
  Lightning's ``epoch`` counter as ``train/epoch``. Lightning adds ``epoch`` to every metrics dict
  it logs; as a top-level tag it formed its own group, which TensorBoard sorts first, so the scalar
  page opened on an epoch staircase (a single point in a ``test`` run) instead of the training
  curves.
* [`RunTensorBoardLogger`][structured_ssl.callbacks.tb_logging.RunTensorBoardLogger] claims its
  ``version_<n>`` folder by creating it
  ([`structured_ssl.callbacks.claims`][structured_ssl.callbacks.claims]): two runs started at once
  into one run folder get two versions, never one shared folder.
* [`checkpoint_run`][structured_ssl.callbacks.tb_logging.checkpoint_run] finds the run a checkpoint
  was saved in (``<save_dir>/<name>/ version_<n>/checkpoints/x.ckpt``), so ``test``, ``validate``
  and ``predict`` of a fit's checkpoint add their values to that fit's run instead of opening a new
  ``version_<n>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import TensorBoardLogger

from structured_ssl.callbacks.claims import claim_version

#: where Lightning's epoch counter is logged (readers also accept the old top-level ``epoch``)
EPOCH_TAG = "train/epoch"


def epoch_points(scalars: Mapping[str, Any]) -> Any:
    """The epoch counter's points in a run read back, under its current or its old tag."""
    return scalars.get(EPOCH_TAG) or scalars.get("epoch") or []


class RunTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoardLogger with the epoch counter filed under ``train/`` and its
    version folder claimed atomically (``claimed_log_dir``: the folder this logger created)."""

    claimed_log_dir: Path | None = None

    def _get_next_version(self) -> int:
        """Lightning's next free number, then the first ``version_<n>`` from it that this
        process creates itself (rank zero only: other ranks never write the run's folder)."""
        start = super()._get_next_version()
        root = Path(os.path.expanduser(os.path.expandvars(self.root_dir)))
        if getattr(rank_zero_only, "rank", 0) != 0 or "://" in str(self.root_dir):
            return start
        version = claim_version(root, start)
        self.claimed_log_dir = root / f"version_{version}"
        return version

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        if "epoch" in metrics:
            metrics[EPOCH_TAG] = metrics.pop("epoch")
        super().log_metrics(metrics, step)


def checkpoint_run(ckpt_path: str | Path) -> tuple[str, str, int] | None:
    """``(save_dir, name, version)`` of the TensorBoard run a checkpoint file was saved in.

    Lightning's ModelCheckpoint saves under ``<log_dir>/checkpoints`` and the logger's
    ``log_dir`` is ``<save_dir>/<name>/version_<n>``; a checkpoint elsewhere (copied, or from
    another tool) belongs to no run we know, and gets None.
    """
    path = Path(ckpt_path)
    if path.parent.name != "checkpoints" or len(path.parents) < 4:
        return None
    match = re.fullmatch(r"version_(\d+)", path.parents[1].name)
    run = path.parents[1]
    if match is None or not (
        (run / "hparams.yaml").is_file() or any(run.glob("events.out.tfevents.*"))
    ):
        return None
    return str(path.parents[3]), path.parents[2].name, int(match.group(1))
