"""Small Lightning callbacks: the end-of-fit report a new user reads."""

from __future__ import annotations

import time

import lightning as L


class FitReport(L.Callback):
    """Prints the final validation probe accuracy, wall time and where logs went."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_dir = trainer.log_dir  # a broadcast: every rank must ask
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        acc = metrics.get("val/probe_acc")
        lines = [
            "",
            f"structured-ssl: {type(pl_module).__name__} finished {trainer.current_epoch} epochs "
            f"in {time.perf_counter() - self._start:.1f} s",
        ]
        if acc is not None:
            lines.append(f"  final val/probe_acc = {float(acc):.4f}")
        for key in ("val/knn_acc", "val/equivariance_error"):
            if key in metrics:
                lines.append(f"  final {key} = {float(metrics[key]):.4f}")
        if log_dir:
            lines.append(f"  logs: {log_dir}   (tensorboard --logdir {log_dir})")
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")  # a ModelCheckpoint's
        if best:
            lines.append(f"  checkpoint: {best}")
        print("\n".join(lines), flush=True)
