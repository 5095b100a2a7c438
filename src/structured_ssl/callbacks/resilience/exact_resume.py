"""Exact resume: a resumed run draws the same random numbers and batches as an uninterrupted one.

Lightning checkpoints hold neither the global random states nor, when ``configure_optimizers``
reads ``trainer.estimated_stepping_batches``, a train-loader position that is actually applied
(Lightning#20550); [`ExactResume`][structured_ssl.callbacks.resilience.exact_resume.ExactResume]
adds both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.seed import _collect_rng_states, _set_rng_states
from lightning.pytorch.utilities.rank_zero import rank_zero_warn


def _numpy_keys_as(states: dict[str, Any], keys: Callable[[Any], Any]) -> dict[str, Any]:
    """``states`` with numpy's ``(kind, keys, pos, has_gauss, gauss)`` state rebuilt: the key
    array through ``keys``, the counters as plain ints and floats."""
    out = dict(states)
    if "numpy" in out:
        kind, raw_keys, pos, has_gauss, gauss = out["numpy"]
        out["numpy"] = (kind, keys(raw_keys), int(pos), int(has_gauss), float(gauss))
    return out


def _portable(states: dict[str, Any]) -> dict[str, Any]:
    """RNG states as tensors and plain Python values, loadable with ``weights_only=True``."""
    out = _numpy_keys_as(states, lambda keys: torch.from_numpy(np.asarray(keys, dtype=np.int64)))
    version, state, gauss = out["python"]
    out["python"] = (version, list(state), gauss)
    return out


def _native(states: dict[str, Any]) -> dict[str, Any]:
    """The states ``_portable`` wrote, as the generators take them back (numpy's keys uint32)."""
    return _numpy_keys_as(states, lambda keys: np.asarray(keys, dtype=np.int64).astype(np.uint32))


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
