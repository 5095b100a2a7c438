"""``structured-ssl predict`` writes the encoder's embeddings to disk, one file per rank.

Why: ``predict`` computed the invariant embeddings of the test split and threw them away. A
Lightning `BasePredictionWriter` keeps them, per rank (each
rank sees its own shard under DDP), with the labels and the dataset indices so the shards can be
put back in order. Format (docs/guides/predict.md): ``<output_dir>/embeddings-rank<R>.pt``, a
``torch.save`` dict ``{"embeddings": float32 (N, D), "labels": int64 (N,), "indices": int64 (N,)}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import BasePredictionWriter

CLASS_PATH = "structured_ssl.callbacks.prediction_writer.EmbeddingWriter"


class EmbeddingWriter(BasePredictionWriter):
    """Collect each predict batch's embeddings (and labels) and save them at the epoch's end.

    ``output_dir`` None: ``<trainer.log_dir>/predictions`` (the run's log folder).
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self._parts: dict[str, list[torch.Tensor]] = {}
        self.written: Path | None = None

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
        out = (
            Path(self.output_dir)
            if self.output_dir
            else Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        )
        out.mkdir(parents=True, exist_ok=True)
        record = {key: torch.cat(parts) for key, parts in self._parts.items() if parts}
        self.written = out / f"embeddings-rank{trainer.global_rank}.pt"
        torch.save(record, self.written)
        self._parts = {}


def add_prediction_writer(config: Any) -> None:
    """``predict`` gets an
    [`EmbeddingWriter`][structured_ssl.callbacks.prediction_writer.EmbeddingWriter] unless the
    trainer config lists a writer."""
    callbacks = config.trainer.get("callbacks") or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if any("Writer" in str(c.get("class_path", c) if hasattr(c, "get") else c) for c in callbacks):
        return
    from jsonargparse import Namespace

    callbacks.append(Namespace(class_path=CLASS_PATH, init_args=Namespace(output_dir=None)))
    config.trainer.callbacks = callbacks
