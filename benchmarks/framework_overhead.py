"""Framework overhead and data path.

1. The project's LightningModule trained by Lightning's Trainer against a minimal
   hand-written PyTorch loop training the same model (same optimizer, schedule and batches).
   Target: within 5% throughput.
2. The data path: DataLoader iteration plus on-device augmentation (A-SSL's two views) per
   batch, against the training step. Target: under 10% of step time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lightning as L  # noqa: E402
import torch  # noqa: E402
from common import device, machine, table, time_it  # noqa: E402

from structured_ssl.data import DigitsDataModule  # noqa: E402
from structured_ssl.groups import Group  # noqa: E402
from structured_ssl.methods import AugmentationSSL, StructuredSSL  # noqa: E402
from structured_ssl.pairs import PairSampling, sample_position_pairs  # noqa: E402

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 60


class StepTimer(L.Callback):
    """Wall time of the training loop only (no set-up, no validation), over all epochs."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.start


def lightning_seconds(model_cls, data: DigitsDataModule) -> float:
    torch.manual_seed(0)
    model = model_cls(group=Group("rotation", 8))
    timer = StepTimer()
    trainer = L.Trainer(
        max_steps=STEPS, max_epochs=-1, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer], accelerator="auto", devices=1,
    )
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == STEPS, trainer.global_step
    return timer.seconds


def plain_loop_seconds(model_cls, data: DigitsDataModule) -> float:
    torch.manual_seed(0)
    model = model_cls(group=Group("rotation", 8)).to(device()).train()
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=2e-3, weight_decay=1e-4)
    probe_optimizer = torch.optim.AdamW(model.probe.parameters(), lr=1e-2)
    start = time.perf_counter()
    step = 0
    while step < STEPS:  # epochs of ~10 batches each, as Lightning runs them
        for x, y in data.train_dataloader():
            if step == STEPS:
                break
            step += 1
            x, y = x.to(device()), y.to(device())
            terms, invariant = model.ssl_terms(x)
            loss = terms["loss"] + model.probe_loss(invariant, y)
            optimizer.zero_grad(set_to_none=True)
            probe_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            probe_optimizer.step()
    return time.perf_counter() - start


def data_path_rows(data: DigitsDataModule) -> list[list[object]]:
    model = AugmentationSSL(group=Group("rotation", 8)).to(device()).train()
    loader = data.train_dataloader()
    batches = list(loader)
    x = batches[0][0].to(device())
    n = len(batches)

    def iterate() -> None:
        for xb, _ in loader:
            xb.to(device())

    cells = model.augment.element_grid  # the group elements A-SSL draws its views from
    load_s = time_it(iterate, repeats=3, warmup=1) / n

    def augment() -> None:
        g1, g2 = sample_position_pairs(cells, PairSampling(), len(x))
        model.augment(x, g1), model.augment(x, g2)

    aug_s = time_it(augment)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        terms, _ = model.ssl_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    step_s = time_it(step)
    return [
        ["DataLoader batch (collate + to device)", f"{load_s * 1000:.1f}", f"{100 * load_s / step_s:.1f}%"],
        ["two augmented views (kornia warp)", f"{aug_s * 1000:.1f}", f"{100 * aug_s / step_s:.1f}%"],
        ["A-SSL training step (includes the views)", f"{step_s * 1000:.1f}", "100%"],
    ]


def main() -> None:
    data = DigitsDataModule(batch_size=128)
    data.setup("fit")
    rows = []
    for cls in (StructuredSSL, AugmentationSSL):
        lightning_s = lightning_seconds(cls, data)
        plain_s = plain_loop_seconds(cls, data)
        rows.append([cls.__name__, f"{STEPS * 128 / lightning_s:.0f}", f"{STEPS * 128 / plain_s:.0f}",
                     f"{100 * (plain_s / lightning_s - 1):+.1f}%"])
    print(f"## Framework overhead: Lightning vs a plain loop, {STEPS} steps of batch 128, C8\n{machine()}\n")
    print(table(["objective", "Lightning samples/s", "plain loop samples/s", "Lightning throughput vs plain"], rows))
    print(f"\n## Data path per batch against the training step (batch 128)\n{machine()}\n")
    print(table(["part", "ms per batch", "share of step"], data_path_rows(data)))


if __name__ == "__main__":
    main()
