"""Nothing in a training step makes the host wait for the device: with the fast trainer
config's callbacks (configs/trainers/one_gpu_fast.yaml) and the device-resident loader, no
step after the first reads a tensor's value or copies to a device without ``non_blocking``
(tests/methods/sync_spy.py records every such call site; on a GPU each one is a stream sync)."""

from __future__ import annotations

import importlib
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from sync_spy import SyncSpy

from structured_ssl.callbacks.resilience import FiniteLoss
from structured_ssl.data.digits import DigitsDataModule
from structured_ssl.groups import Group
from structured_ssl.methods import AugmentationSSL, StructuredSSL

REPO = Path(__file__).resolve().parents[2]
FAST = REPO / "configs/trainers/one_gpu_fast.yaml"


def fast_callbacks(root: Path) -> list[L.Callback]:
    """The fast config's callbacks, built as the CLI would (checkpoints under ``root``)."""
    built = []
    for entry in yaml.safe_load(FAST.read_text())["callbacks"]:
        module, name = entry["class_path"].rsplit(".", 1)
        kwargs = dict(entry.get("init_args", {}))
        if name == "ModelCheckpoint":
            kwargs["dirpath"] = str(root)
        built.append(getattr(importlib.import_module(module), name)(**kwargs))
    return built


CASES = {
    "structured-rotation": (StructuredSSL, Group("rotation", 4)),
    "augmentation-translation": (AugmentationSSL, Group("translation")),
    "structured-scale": (StructuredSSL, Group("scale")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_host_sync_inside_the_training_step(tmp_path: Path, case: str) -> None:
    method, group = CASES[case]
    torch.manual_seed(0)
    spy = SyncSpy()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=6, limit_val_batches=1,
        log_every_n_steps=50, logger=L.pytorch.loggers.CSVLogger(tmp_path), default_root_dir=tmp_path,
        callbacks=[*fast_callbacks(tmp_path), spy], enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(
        method(group=group), DigitsDataModule(batch_size=16, train_subset=96, device_resident=True)
    )
    assert trainer.global_step == 6
    assert dict(spy.calls) == {}, "host syncs inside the training step, by call site"


def test_finite_loss_reads_its_device_flag_every_n_steps(tmp_path: Path) -> None:
    """The late check still stops a poisoned run, and names the steps it covers."""

    class Poisoned(StructuredSSL):
        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            loss = super().training_step(batch, batch_idx)
            return loss * float("nan") if self.trainer.global_step == 1 else loss

    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=6,
        limit_val_batches=0,
        callbacks=[FiniteLoss(every_n_steps=3)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(FloatingPointError, match=r"steps 0\.\.2 \(FiniteLoss every_n_steps=3\)"):
        trainer.fit(
            Poisoned(group=Group("rotation", 4)), DigitsDataModule(batch_size=16, train_subset=96)
        )
    assert trainer.global_step == 2  # stopped at the third step, before its optimizer step
    with pytest.raises(ValueError, match="FiniteLoss every_n_steps=0: expected an integer >= 1"):
        FiniteLoss(every_n_steps=0)
