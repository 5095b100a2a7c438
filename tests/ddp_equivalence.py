"""Helper script for tests/methods/test_ddp.py: one training step with the REAL view sampler; loss,
gradients and the step's draws saved.

Run as ``python tests/ddp_equivalence.py OUT.pt OBJECTIVE LOSS DEVICES``. With DEVICES=2
Lightning's ``ddp`` strategy (gloo, CPU) re-launches this script for rank 1; under ``srun -n 2``
(tests/experiments/test_slurm.py) SLURM starts both ranks and Lightning's SLURMEnvironment reads them.
Rank r trains on examples [16 r, 16 r + 16) of a fixed 32-image batch; 1 process trains on all
32 in that order, so global example index j is the same image in both runs. Views and fiber
positions are drawn by the methods' own ``make_views`` from
:class:`~structured_ssl.ssl.draws.StepDraws` (seeded from the run seed and step, split by
global example index): the two ranks together must draw what the single process draws. Batch
norms are synchronised (escnn's included) so their statistics are global too. Each rank writes
its draws to ``OUT.rankR.pt``.
"""

from __future__ import annotations

import sys

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from structured_ssl.encoders.sync_batchnorm import EscnnSyncBatchNorm
from structured_ssl.groups import Group
from structured_ssl.methods import AugmentationSSL, StructuredSSL
from structured_ssl.ssl.losses import NTXent, VICReg

TOTAL = 32
GROUP = Group("rotation", 4)


class Shards(L.LightningDataModule):
    """Rank r reads the r-th contiguous shard of the fixed batch (no DistributedSampler)."""

    def train_dataloader(self) -> DataLoader:
        images = torch.rand(TOTAL, 1, 21, 21, generator=torch.Generator().manual_seed(7))
        per = TOTAL // self.trainer.world_size
        mine = slice(self.trainer.global_rank * per, (self.trainer.global_rank + 1) * per)
        return DataLoader(
            TensorDataset(images[mine], torch.arange(TOTAL)[mine]), batch_size=per, shuffle=False
        )


def objective_of(model: L.LightningModule) -> str:
    return "augmentation" if isinstance(model, AugmentationSSL) else "structured"


class Recorder(L.Callback):
    """The first step's loss; the gradients after its backward; what make_views drew."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.draws: dict[str, torch.Tensor] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        make_views = pl_module.make_views

        def recording(x, draws=None):
            views = make_views(x, draws)
            names = (
                ("base", "images")
                if objective_of(pl_module) == "augmentation"
                else ("first", "second")
            )
            for name in names:
                if name not in self.draws:
                    self.draws[name] = getattr(views, name).detach().clone()
            return views

        pl_module.make_views = recording

    def on_after_backward(self, trainer, pl_module) -> None:
        pl_module.saved_grads = {
            n: p.grad.detach().clone()
            for n, p in pl_module.named_parameters()
            if p.grad is not None
        }

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def main() -> None:
    out, objective, loss_name, devices = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    L.seed_everything(0)
    loss = NTXent(temperature=0.1) if loss_name == "ntxent" else VICReg()
    cls = StructuredSSL if objective == "structured" else AugmentationSSL
    model = cls(group=GROUP, loss=loss, num_classes=TOTAL, in_channels=1, image_size=21)
    recorder = Recorder()
    trainer = L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", max_steps=1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, callbacks=[recorder], use_distributed_sampler=False,
        sync_batchnorm=devices > 1, plugins=[EscnnSyncBatchNorm()] if devices > 1 else None,
    )  # fmt: skip
    trainer.fit(model, datamodule=Shards())
    torch.save(recorder.draws, f"{out}.rank{trainer.global_rank}.pt")
    loss_value = torch.tensor(recorder.losses[0])
    if devices > 1:
        torch.distributed.all_reduce(loss_value)
        loss_value /= devices
    if trainer.is_global_zero:
        environment = type(getattr(trainer.strategy, "cluster_environment", None)).__name__
        torch.save(
            {
                "loss": loss_value,
                "grads": model.saved_grads,
                "world_size": trainer.world_size,
                "environment": environment,
            },
            out,
        )
    if devices > 1:  # leave together: a rank exiting while gloo threads run aborts the other
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
