"""``structured-ssl predict`` writes the encoder's embeddings to disk, one file per rank.

Why: ``predict`` computed the invariant embeddings of the test split and threw them away. A
Lightning `BasePredictionWriter` keeps them, per rank (each
rank sees its own shard under DDP), with the labels and the dataset indices so the shards can be
put back in order. Format (docs/guides/predict.md): ``<output_dir>/embeddings-rank<R>.pt``, a
``torch.save`` dict ``{"embeddings": float32 (N, D), "labels": int64 (N,), "indices": int64 (N,)}``.

No predict rewrites another's embeddings: without ``output_dir`` each predict claims a new
folder of the run (``predictions``, ``predictions-2``, ...;
[`structured_ssl.callbacks.claims`][structured_ssl.callbacks.claims]) before inference; an
``output_dir`` that already holds embeddings is refused before the build unless ``overwrite: true``
([`check_predict`][structured_ssl.callbacks.prediction_writer.check_predict]). The file is written
atomically and its path printed. A predict without ``--ckpt_path`` (the embeddings of an untrained
encoder) is refused unless the model says so itself (``Frozen``, or an evaluation model's
``checkpoint``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from structured_ssl.callbacks.claims import claim_folder, numbered
from structured_ssl.callbacks.write_faults import write_fault
from structured_ssl.config.field_checks import ConfigError
from structured_ssl.data.download import atomic_write

CLASS_PATH = "structured_ssl.callbacks.prediction_writer.EmbeddingWriter"


class EmbeddingWriter(BasePredictionWriter):
    """Collect each predict batch's embeddings (and labels) and save them at the epoch's end.

    ``output_dir`` None: ``<trainer.log_dir>/predictions`` (the run's log folder).
    """

    def __init__(self, output_dir: str | None = None, overwrite: bool = False) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.overwrite = overwrite
        self._parts: dict[str, list[torch.Tensor]] = {}
        self._folder: Path | None = None
        self.written: Path | None = None

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        """Decide the folder before inference: a claimed new one, or the given one if free."""
        folder = None
        if trainer.is_global_zero:
            if self.output_dir:
                folder = Path(self.output_dir)
                refuse_existing(folder, "output_dir", self.overwrite)
            else:
                run = Path(trainer.log_dir or trainer.default_root_dir)
                folder = claim_folder(run, numbered("predictions", "predictions"))
        self._folder = Path(trainer.strategy.broadcast(str(folder) if folder else None))

    def on_predict_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._parts = {"embeddings": [], "labels": [], "indices": []}

    def write_on_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        embeddings = prediction.detach().float().cpu()
        self._parts["embeddings"].append(embeddings)
        labels = batch[1] if isinstance(batch, (list, tuple)) and len(batch) > 1 else None
        if labels is not None:
            self._parts["labels"].append(torch.as_tensor(labels).detach().long().cpu())
        start = sum(len(e) for e in self._parts["embeddings"][:-1])
        indices = list(batch_indices) if batch_indices else range(start, start + len(embeddings))
        self._parts["indices"].append(torch.as_tensor(indices, dtype=torch.long))

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        out = self._folder or Path(self.output_dir or trainer.log_dir or ".") / "predictions"
        record = {key: torch.cat(parts) for key, parts in self._parts.items() if parts}
        self.written = out / f"embeddings-rank{trainer.global_rank}.pt"
        try:
            with atomic_write(self.written) as f:
                torch.save(record, f)
        except OSError as error:
            raise write_fault(self.written, error, "embeddings") from error
        self._parts = {}
        rows = len(record.get("embeddings", ()))
        print(f"predict: wrote {rows} embeddings to {self.written}", file=sys.stderr, flush=True)


def refuse_existing(folder: Path, field: str, overwrite: bool) -> None:
    """An ``output_dir`` holding an earlier predict's embeddings is refused unless ``overwrite``."""
    if overwrite or not folder.is_dir():
        return
    found = sorted(p.name for p in folder.glob("embeddings-rank*.pt"))
    if found:
        raise ConfigError(
            f"{field}={str(folder)!r} already holds {', '.join(found)} of an earlier predict: expected a folder "
            "without embeddings; choose another output_dir, or set overwrite: true on the writer to replace them"
        )


def check_predict(config: Any) -> None:
    """Before the build: a predict needs a checkpoint (or a model that says it needs none), and
    a given ``output_dir`` must not hold an earlier predict's embeddings."""
    model = config.get("model") or {}
    init_args = (model.get("init_args") if hasattr(model, "get") else None) or {}
    untrained_on_purpose = str(model.get("class_path", "")).endswith(".Frozen") or bool(
        init_args.get("checkpoint") if hasattr(init_args, "get") else None
    )
    if not config.get("ckpt_path") and not untrained_on_purpose:
        raise ConfigError(
            "ckpt_path=None: predict without a checkpoint would write the embeddings of an untrained encoder; "
            "expected --ckpt_path FILE (a fit's checkpoint, e.g. runs/<run>/version_0/checkpoints/last.ckpt), "
            "or --model=structured_ssl.methods.Frozen for an untrained baseline on purpose"
        )
    callbacks = config.trainer.get("callbacks") or []
    for i, callback in enumerate(
        callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    ):
        if not hasattr(callback, "get") or "Writer" not in str(callback.get("class_path", "")):
            continue
        args = callback.get("init_args") or {}
        output_dir = args.get("output_dir") if hasattr(args, "get") else None
        if output_dir:
            field = f"trainer.callbacks[{i}].init_args.output_dir"
            refuse_existing(Path(str(output_dir)), field, bool(args.get("overwrite")))


def add_prediction_writer(config: Any) -> None:
    """``predict`` gets an
    [`EmbeddingWriter`][structured_ssl.callbacks.prediction_writer.EmbeddingWriter] unless the
    trainer config lists a writer."""
    callbacks = config.trainer.get("callbacks") or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if any("Writer" in str(c.get("class_path", c) if hasattr(c, "get") else c) for c in callbacks):
        return
    from jsonargparse import Namespace

    callbacks.append(
        Namespace(class_path=CLASS_PATH, init_args=Namespace(output_dir=None, overwrite=False))
    )
    config.trainer.callbacks = callbacks
