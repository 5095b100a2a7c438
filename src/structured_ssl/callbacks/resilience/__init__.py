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

What it does not do, and this package adds (one module per callback):

* [`ExactResume`][structured_ssl.callbacks.resilience.exact_resume.ExactResume]: the global
  torch/CUDA/numpy/python random states (augmentations and fiber positions are drawn from them)
  are not in Lightning checkpoints; and the train loader's saved position is silently dropped
  when ``configure_optimizers`` reads ``trainer.estimated_stepping_batches`` (ours does, for the
  cosine schedule): Lightning#20550.
* [`PreemptionCheckpoint`][structured_ssl.callbacks.resilience.preemption.PreemptionCheckpoint]:
  nothing is saved on SIGTERM, so the steps since the last periodic checkpoint are lost. We save
  ``last.ckpt`` at the next step boundary, outside the signal handler (saving inside a handler
  can hang: Lightning#21406).
* [`AtomicCheckpointIO`][structured_ssl.callbacks.resilience.atomic_io.AtomicCheckpointIO]:
  Lightning writes through an fsspec transaction whose temporary file lives in the system temp
  dir; when that is another filesystem (node-local /tmp, shared checkpoint dir) the final move is
  a copy, and a kill mid-copy leaves a truncated ``last.ckpt``. We write beside the target,
  fsync, then ``os.replace``.
* [`FiniteLoss`][structured_ssl.callbacks.resilience.finite_loss.FiniteLoss]: a NaN loss
  otherwise trains on silently (or is checkpointed). We stop before the optimizer step, naming
  the step and the logged terms that are not finite.

The class paths ``structured_ssl.callbacks.resilience.<Class>`` that configs and saved runs name
resolve here; each class is defined in its own module. Lightning keys a callback's checkpoint
state by its class name (``__qualname__``), not its module, so checkpoints written before the
split resume unchanged.
"""

from structured_ssl.callbacks.resilience.atomic_io import AtomicCheckpointIO
from structured_ssl.callbacks.resilience.exact_resume import ExactResume
from structured_ssl.callbacks.resilience.finite_loss import FiniteLoss
from structured_ssl.callbacks.resilience.preemption import PreemptionCheckpoint

__all__ = ["AtomicCheckpointIO", "ExactResume", "FiniteLoss", "PreemptionCheckpoint"]
