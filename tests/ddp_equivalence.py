"""Helper script for tests/test_ddp.py: one training step, loss and gradients saved.

Run as ``python tests/ddp_equivalence.py OUT.pt OBJECTIVE LOSS DEVICES``. With DEVICES=2
Lightning's ``ddp`` strategy (gloo, CPU) re-launches this script for rank 1; each rank sees
half of a fixed 32-image batch. Under ``srun -n 2`` (tests/test_slurm.py) SLURM starts both
ranks and Lightning's SLURMEnvironment reads them. Pair draws are tied to each example (not to its position in
the batch), so 1 process with 32 images and 2 processes with 16 each make the same pairs.
Batch norms are synchronised (escnn's included) so their statistics are global too.
"""

from __future__ import annotations

import sys

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from structured_ssl.groups import Group
from structured_ssl.losses import NTXent, VICReg
from structured_ssl.methods import AugmentationSSL, StructuredSSL
from structured_ssl.methods.augmentation import AugmentedViews
from structured_ssl.methods.structured import FiberViews
from structured_ssl.pairs import FiberGrid, PairSampling, sample_position_pairs, sample_positions
from structured_ssl.sync_batchnorm import EscnnSyncBatchNorm

TOTAL = 32
GROUP = Group("rotation", 4)


def fixed_draws(model) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    first, second = sample_position_pairs(model.grid, PairSampling(), TOTAL, generator)
    cells = FiberGrid(model.grid.shape, model.grid.cyclic, (1,))
    g1, g2 = sample_position_pairs(cells, PairSampling(), TOTAL, generator)
    return {"first": first, "second": second, "g1": g1, "g2": g2, "base": sample_positions(model.grid, TOTAL, generator)}


class PerExample:
    """Mixin: the training batch's labels are example ids; draws are looked up by id."""

    def training_step(self, batch, batch_idx):
        self._ids = batch[1]
        return super().training_step(batch, batch_idx)

    def on_after_backward(self) -> None:
        self.saved_grads = {n: p.grad.detach().clone() for n, p in self.named_parameters() if p.grad is not None}


class FixedStructured(PerExample, StructuredSSL):
    def make_views(self, x):
        d = self.draws
        return FiberViews(x, d["first"][self._ids], d["second"][self._ids])


class FixedAugmentation(PerExample, AugmentationSSL):
    def make_views(self, x):
        d = self.draws
        ids = self._ids
        views = torch.cat([self.augment(x, d["g1"][ids]), self.augment(x, d["g2"][ids])])
        return AugmentedViews(views, d["base"][ids], 1)


class Capture(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def main() -> None:
    out, objective, loss_name, devices = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    loss = NTXent(temperature=0.1) if loss_name == "ntxent" else VICReg()
    cls = FixedStructured if objective == "structured" else FixedAugmentation
    model = cls(group=GROUP, loss=loss, num_classes=TOTAL, in_channels=1, image_size=21)
    model.draws = fixed_draws(model)
    images = torch.rand(TOTAL, 1, 21, 21, generator=torch.Generator().manual_seed(7))
    loader = DataLoader(TensorDataset(images, torch.arange(TOTAL)), batch_size=TOTAL // devices, shuffle=False)
    capture = Capture()
    trainer = L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", max_steps=1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, callbacks=[capture],
        sync_batchnorm=devices > 1, plugins=[EscnnSyncBatchNorm()] if devices > 1 else None,
    )
    trainer.fit(model, train_dataloaders=loader)
    loss_value = torch.tensor(capture.losses[0])
    if devices > 1:
        torch.distributed.all_reduce(loss_value)
        loss_value /= devices
    if trainer.is_global_zero:
        environment = type(getattr(trainer.strategy, "cluster_environment", None)).__name__
        torch.save({"loss": loss_value, "grads": model.saved_grads, "world_size": trainer.world_size,
                    "environment": environment}, out)


if __name__ == "__main__":
    main()
