"""A test-only callback that records, during each training step, every call that would make
the host wait for a GPU: reading a tensor's value (``item``, ``bool``, ``float``, ``tolist``,
``numpy``, ``cpu``) and copying to a device without ``non_blocking=True``.

On CPU every tensor is a host tensor, so it records the CALL SITES; a site in the step is a
sync on a GPU unless its tensor is host-resident by design (``HOST_SITES``)."""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import lightning as L
import torch

READS = ("item", "__bool__", "tolist", "__float__", "__int__", "numpy", "cpu")
#: sites that read tensors which stay on the host on a GPU too: torch keeps optimizer step
#: counters on the CPU unless ``capturable``/``fused`` (and reads them with ``item`` on purpose)
HOST_SITES = ("torch/optim/optimizer.py",)
#: copies that name a device without ``non_blocking`` on CPU only: Lightning's batch and log
#: moves pass ``non_blocking=True`` for CUDA targets (``_BLOCKING_DEVICE_TYPES`` is cpu / mps)
NONBLOCKING_ON_CUDA = ("lightning/fabric/utilities/apply_func.py",)


def _site() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "sync_spy.py" not in frame.filename:
            path = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
            return f"{path}:{frame.lineno}"
    return "?"


def _names_device(args: tuple, kwargs: dict) -> bool:
    if kwargs.get("device") is not None:
        return True
    return any(isinstance(a, (torch.device, str)) for a in args)


class SyncSpy(L.Callback):
    """Counts host-synchronising calls by site between ``on_train_batch_start`` and ``_end``
    of every step but the first (which builds caches once) and the epoch's last (where the
    progress bar redraws, once per epoch); put it last in the callback list so that every
    other step hook runs inside."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._saved: dict[str, Any] = {}

    def _wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        self._saved[name] = (owner, original)
        spy = self

        def reads(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            site = _site()
            if not site.startswith(HOST_SITES):
                spy.calls[(name, site)] += 1
            return original(tensor, *args, **kwargs)

        def moves(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if (
                _names_device(args, kwargs)
                and not kwargs.get("non_blocking", False)
                and not _site().startswith(NONBLOCKING_ON_CUDA)
            ):
                spy.calls[(name, _site())] += 1
            return original(tensor, *args, **kwargs)

        def builds(data: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("device") not in (None, "cpu"):  # "cpu" spelled out: host by design
                spy.calls[(name, _site())] += 1
            return original(data, *args, **kwargs)

        setattr(owner, name, {"to": moves, "tensor": builds}.get(name, reads))

    def on_train_batch_start(
        self, trainer: L.Trainer, module: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == 0 or batch_idx == trainer.num_training_batches - 1:
            return
        for name in READS + ("to",):
            self._wrap(torch.Tensor, name)
        self._wrap(torch, "tensor")

    def on_train_batch_end(self, *args: Any) -> None:
        for name, (owner, original) in self._saved.items():
            setattr(owner, name, original)
        self._saved.clear()
