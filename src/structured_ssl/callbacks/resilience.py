"""Long runs that survive interruption: exact resume, preemption checkpoints, atomic writes,
and a clear stop on a non-finite loss.

What Lightning already does, and is relied on here rather than rewritten:

* ``--ckpt_path last`` restores weights (EMA target and online probe included: both are
  submodules), optimizer, LR schedulers, loop progress and, for train loaders that implement
  ``state_dict``/``load_state_dict``
  ([`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader]), the position inside
  the epoch.
* On SIGTERM its signal handler only sets ``trainer.received_sigterm``; the training loop
  then raises ``SIGTERMException`` at the next batch boundary.
* Under SLURM it picks ``SLURMEnvironment(auto_requeue=True, requeue_signal=SIGUSR1)`` by
  itself: ``#SBATCH --signal=SIGUSR1@90`` makes it save ``hpc_ckpt_N.ckpt`` and requeue the
  job (see scripts/slurm_fit.sh). submitit signals USR2 instead: there, pass
  ``--trainer.plugins+='{"class_path": "lightning.pytorch.plugins.environments.SLURMEnvironment",
  "init_args": {"requeue_signal": "SIGUSR2"}}'``. A job script can always pass
  ``--ckpt_path last``: on the first start nothing is found and training starts fresh.

What it does not do, and this module adds:

* [`ExactResume`][structured_ssl.callbacks.resilience.ExactResume]: the global
  torch/CUDA/numpy/python random states (augmentations and fiber positions are drawn from them) are
  not in Lightning checkpoints; and the train loader's saved position is silently dropped when
  ``configure_optimizers`` reads ``trainer.estimated_stepping_batches`` (ours does, for the cosine
  schedule): Lightning#20550.
* [`PreemptionCheckpoint`][structured_ssl.callbacks.resilience.PreemptionCheckpoint]: nothing is
  saved on SIGTERM, so the steps since the last periodic checkpoint are lost. We save ``last.ckpt``
  at the next step boundary, outside the signal handler (saving inside a handler can hang:
  Lightning#21406).
* [`AtomicCheckpointIO`][structured_ssl.callbacks.resilience.AtomicCheckpointIO]: Lightning writes
  through an fsspec transaction whose temporary file lives in the system temp dir; when that is
  another filesystem (node-local /tmp, shared checkpoint dir) the final move is a copy, and a kill
  mid-copy leaves a truncated ``last.ckpt``. We write beside the target, fsync, then ``os.replace``.
* [`FiniteLoss`][structured_ssl.callbacks.resilience.FiniteLoss]: a NaN loss otherwise trains on
  silently (or is checkpointed). We stop before the optimizer step, naming the step and the logged
  terms that are not finite.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.seed import _collect_rng_states, _set_rng_states
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

from structured_ssl.callbacks.write_faults import RecordingWriter, write_fault
from structured_ssl.data.download import atomic_write
from structured_ssl.methods.checkpoints import (
    CKPT_PATH_TRUST_HINT,
    allowed_project_types,
    load_checkpoint,
    refusal,
)
from structured_ssl.ssl.losses import nonfinite_terms


# --------------------------------------------------------------------------- RNG state
def _portable(states: dict[str, Any]) -> dict[str, Any]:
    """RNG states as tensors and plain Python values, loadable with ``weights_only=True``."""
    out = dict(states)
    if "numpy" in out:
        kind, keys, pos, has_gauss, gauss = out["numpy"]
        out["numpy"] = (
            kind,
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(gauss),
        )
    version, state, gauss = out["python"]
    out["python"] = (version, list(state), gauss)
    return out


def _native(states: dict[str, Any]) -> dict[str, Any]:
    out = dict(states)
    if "numpy" in out:
        kind, keys, pos, has_gauss, gauss = out["numpy"]
        out["numpy"] = (
            kind,
            np.asarray(keys, dtype=np.int64).astype(np.uint32),
            pos,
            has_gauss,
            gauss,
        )
    return out


class ExactResume(L.Callback):
    """Makes a resumed run continue exactly as an uninterrupted one would have.

    * Every rank's global random states go into the checkpoint and are restored in
      ``on_train_start``: after the sanity check and anything else that draws random numbers,
      right before the first resumed step, so the same augmentations and fiber positions follow.
    * The train loader's position (see
      [`ResumableDataLoader`][structured_ssl.data.sampling.ResumableDataLoader]) is loaded there
      too. Lightning loads it itself only when the train loader is first set up after the checkpoint
      is read; ``estimated_stepping_batches`` in ``configure_optimizers`` sets it up before, and the
      saved position is then never applied (Lightning#20550, fix proposed in Lightning PR#21765,
      whose approach this follows: load the pending states, then re-create the batch iterator so no
          sample was drawn with the stale position).

    Data order itself does not depend on random state:
        [`EpochSampler`][structured_ssl.data.sampling.EpochSampler]
    shuffles by (seed, epoch) only.
    """

    def __init__(self) -> None:
        self._to_restore: list[dict[str, Any]] | None = None

    def state_dict(self) -> dict[str, Any]:
        states = _portable(_collect_rng_states(include_cuda=torch.cuda.is_available()))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # every rank runs dump_checkpoint (only rank 0 writes): gather so each gets its own back
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, states)
            return {"ranks": gathered}
        return {"ranks": [states]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = list(state_dict.get("ranks", []))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        restore_loader_position(trainer)
        ranks, self._to_restore = self._to_restore, None
        if not ranks:
            return
        if trainer.global_rank >= len(ranks):
            rank_zero_warn(
                f"ExactResume: the checkpoint holds random states of {len(ranks)} process(es), this run has "
                "more; new ranks keep their seeded states (the resumed run is not bit-identical)"
            )
            return
        _set_rng_states(_native(ranks[trainer.global_rank]))


def restore_loader_position(trainer: L.Trainer) -> None:
    """Apply train-loader states Lightning read from the checkpoint but did not load (#20550)."""
    loop = trainer.fit_loop
    pending = getattr(loop, "_combined_loader_states_to_load", None)
    if not (loop.restarting and pending and loop._combined_loader is not None):
        return
    loop._load_combined_loader_states()
    if loop._data_fetcher is not None:
        iter(loop._data_fetcher)  # the old iterator may already have drawn from the sampler


# --------------------------------------------------------------------------- preemption
def last_checkpoint_path(trainer: L.Trainer) -> str:
    """Where ``--ckpt_path last`` will look: ``last.ckpt`` beside the ModelCheckpoint's files."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return os.path.join(
                callback.dirpath, callback.CHECKPOINT_NAME_LAST + callback.FILE_EXTENSION
            )
    return os.path.join(trainer.default_root_dir, "checkpoints", "last.ckpt")


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM (SLURM preemption or time limit, ``scancel``, Kubernetes), save ``last.ckpt``
    at the next training-step boundary; Lightning then stops the run.

    Lightning's own handler records the signal (``trainer.received_sigterm``); this callback
    only reads that flag, so nothing heavy happens inside the handler. Under DDP the ranks
    agree on the flag (one tiny all-reduce per step) so that all of them save at the same step.
    A SIGTERM during validation stops the run without a new checkpoint: resume then starts from
    the latest periodic one.
    """

    def __init__(self) -> None:
        self._saved_at_step = -1

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        signalled = bool(trainer.received_sigterm)
        if trainer.world_size > 1:
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled or self._saved_at_step == trainer.global_step:
            return
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        self._saved_at_step = trainer.global_step
        rank_zero_info(
            f"SIGTERM received: saved {path} at global step {trainer.global_step}; stopping"
        )


# --------------------------------------------------------------------------- atomic writes
class AtomicCheckpointIO(TorchCheckpointIO):
    """Local checkpoints are written to a temporary file in the SAME directory, flushed to disk,
    then renamed over the target: a reader sees the old file or the new one, never a partial one,
    even when the process is killed mid-write. Remote (fsspec) paths use Lightning's writer.

    Checkpoints are read (``--ckpt_path`` of fit, validate, test, predict) without running
    code, local or remote ([`load_checkpoint`][structured_ssl.methods.checkpoints.load_checkpoint]),
    whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says, unless the user passes
    ``--weights_only=false``.
    """

    def load_checkpoint(
        self,
        path: Any,
        map_location: Any | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(get_filesystem(path), LocalFileSystem):
            if not os.path.exists(path):
                raise FileNotFoundError(f"Checkpoint file not found: {path}")
            return load_checkpoint(
                path,
                trust=weights_only is False,
                trust_hint=CKPT_PATH_TRUST_HINT,
                map_location=map_location,
            )
        # remote (fsspec, http): Lightning would default URLs to the full unpickler
        with allowed_project_types():
            try:
                return super().load_checkpoint(path, map_location, weights_only is not False)
            except pickle.UnpicklingError as error:
                raise refusal(path, error, CKPT_PATH_TRUST_HINT) from None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        from fsspec.implementations.local import LocalFileSystem

        if not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__} takes no storage_options, got {storage_options!r}"
            )
        target = Path(os.fspath(path))
        writer = None
        try:
            with atomic_write(target) as f:
                writer = RecordingWriter(f)
                self.write(checkpoint, writer)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:  # a full disk, a quota, a name too long: one line, what is kept
            raise write_fault(target, error, "checkpoint") from error
        except RuntimeError as error:  # torch's zip writer hides the OSError of a failed write
            if writer is None or writer.error is None:
                raise
            raise write_fault(target, writer.error, "checkpoint") from error
        _fsync_directory(target.parent)

    def write(self, checkpoint: dict[str, Any], file: Any) -> None:
        """The bytes of one checkpoint into an open file (a seam for fault-injection tests)."""
        torch.save(checkpoint, file)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- numerical faults
def logged_step_terms(trainer: L.Trainer) -> dict[str, torch.Tensor]:
    """The values ``training_step`` logged in the current step, by name (e.g. ``train/loss``).

    Lightning hands logged values to callbacks (``callback_metrics``) only after
    ``on_train_batch_end``, i.e. after the optimizer step; to stop BEFORE it we read the step's
    result collection. Private Lightning API, so any surprise degrades to an empty dict.
    """
    try:
        results = trainer._results
        if results is None:
            return {}
        terms = {}
        for metric in results.values():
            value = getattr(metric, "_forward_cache", None)
            if metric.meta.fx == "training_step" and isinstance(value, torch.Tensor):
                terms[metric.meta.name] = value
        return terms
    except Exception:  # noqa: BLE001 - diagnostics only
        return {}


class FiniteLoss(L.Callback):
    """Stops training with `FloatingPointError` when the loss is NaN or infinite.

    Checked in ``on_before_backward``: before the gradients and the optimizer step, so the
    weights stay those of the last good step, and before ``on_train_batch_end``, so no
    checkpoint of the poisoned step is written (``last.ckpt`` stays the last good one; do not
    combine with ``OnExceptionCheckpoint``, which would save the poisoned batch-norm statistics).
    One device sync per step; under DDP one tiny all-reduce so that every rank stops together.

    Args:
        every_n_steps: 1 (default) checks every step as above. N > 1 keeps a flag ON THE DEVICE
            (no host synchronisation in the step) and reads it every N steps and at each epoch
            end: the run stops at most N - 1 steps late, and the checkpoints stay good when N
            divides ``every_n_train_steps`` of the step checkpoint (they are written after the
            check). What a GPU run pays per step for a sync is measured by benchmarks/gpu.py.
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(
                f"FiniteLoss every_n_steps={every_n_steps!r}: expected an integer >= 1"
            )
        self.every_n_steps = every_n_steps
        self._batch_idx = 0
        self._bad: torch.Tensor | None = None  # any non-finite loss since the last read (N > 1)
        self._since = 0  # global step of the first unread step

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._batch_idx = batch_idx

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if self.every_n_steps == 1:
            local_bad = not bool(torch.isfinite(loss.detach()).all())
            bad = (
                trainer.strategy.reduce_boolean_decision(local_bad, all=False)
                if trainer.world_size > 1
                else local_bad
            )
            if bad:
                raise FloatingPointError(self.describe(trainer, loss, local_bad))
            return
        step_bad = ~torch.isfinite(loss.detach()).all()
        self._bad = step_bad if self._bad is None else self._bad | step_bad
        if (trainer.global_step + 1) % self.every_n_steps == 0:
            self._read(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.every_n_steps > 1:
            self._read(trainer)

    def _read(self, trainer: L.Trainer) -> None:
        """One host read of the device flag (and one all-reduce under DDP) for the last steps."""
        if self._bad is None:
            return
        local_bad, self._bad = bool(self._bad), None
        since, self._since = self._since, trainer.global_step + 1
        bad = (
            trainer.strategy.reduce_boolean_decision(local_bad, all=False)
            if trainer.world_size > 1
            else local_bad
        )
        if bad:
            last = last_checkpoint_path(trainer)
            kept = f"; the last good checkpoint is {last}" if os.path.exists(last) else ""
            raise FloatingPointError(
                f"Training stopped at global step {trainer.global_step} (epoch {trainer.current_epoch}): a non-finite "
                f"loss {'on this process' if local_bad else 'on another process'} in steps {since}..{trainer.global_step} "  # noqa: E501
                f"(FiniteLoss every_n_steps={self.every_n_steps}){kept}. Resume with --ckpt_path last, or rerun with "
                "every_n_steps=1 to stop at the step itself and name the loss term"
            )

    def describe(self, trainer: L.Trainer, loss: torch.Tensor, local_bad: bool) -> str:

        terms = logged_step_terms(trainer)
        bad = nonfinite_terms(terms) if terms else []
        where = f"at global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {self._batch_idx})"
        what = (
            f"non-finite loss terms: {', '.join(f'{n}={float(terms[n]):g}' for n in bad)}"
            if bad
            else f"total loss={float(loss.detach()):g}"
            if local_bad
            else "a non-finite loss on another process"
        )
        last = last_checkpoint_path(trainer)
        kept = (
            f"; the last good checkpoint {last} was not overwritten" if os.path.exists(last) else ""
        )
        return (
            f"Training stopped {where}: {what}. The optimizer step was not taken{kept}. Usual causes: a "
            "learning rate too high for the batch size, a too-low loss temperature, or a corrupt input "
            "batch; fix it and resume with --ckpt_path last"
        )
