"""Offline linear evaluation from a checkpoint written by a real (tiny) CLI fit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from cli_args import quiet
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from structured_ssl.cli import main
from structured_ssl.groups import Group
from structured_ssl.methods import StructuredSSL
from structured_ssl.methods.linear_eval import LinearEval, encoder_state, read_checkpoint
from structured_ssl.reporting.compare import collect

REPO = Path(__file__).resolve().parents[2]


class CaptureEncoder(L.Callback):
    """Test-only: keeps a copy of the LinearEval encoder's weights at the end of fit."""

    states: dict[str, dict[str, torch.Tensor]] = {}

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.states["fit"] = {
            k: v.detach().clone() for k, v in pl_module.encoder.state_dict().items()
        }
        self.states["requires_grad"] = {
            n: p.requires_grad for n, p in pl_module.encoder.named_parameters()
        }  # type: ignore[assignment]
        self.states["training"] = {n: m.training for n, m in pl_module.encoder.named_modules()}  # type: ignore[assignment]
        self.states["pretrained_class"] = pl_module.pretrained_class  # type: ignore[assignment]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A StructuredSSL C8 checkpoint from one tiny real fit."""
    root = tmp_path_factory.mktemp("pretrain")
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--trainer.num_sanity_val_steps=0",
            "--data.init_args.train_subset=256",
            *quiet(root),
        ]
    )
    checkpoint = next(root.rglob("checkpoints/last.ckpt"))
    return checkpoint


def scalars(run: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_linear_eval_fit_then_test_from_a_real_checkpoint(pretrained: Path, tmp_path: Path) -> None:
    capture = {"class_path": f"{__name__}.CaptureEncoder"}
    common = [
        "--config",
        str(REPO / "configs/eval/linear.yaml"),
        f"--model.init_args.checkpoint={pretrained}",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        *quiet(tmp_path),
    ]
    CaptureEncoder.states.clear()
    main(["fit", *common, "--trainer.max_epochs=1", f"--trainer.callbacks+={json.dumps(capture)}"])
    main(["test", *common, "--ckpt_path=last"])

    # the encoder never trained: same weights AND batch-norm statistics as the checkpoint
    states: dict[str, Any] = CaptureEncoder.states
    original = encoder_state(
        read_checkpoint(pretrained)["state_dict"], torch.nn.Module(), str(pretrained)
    )
    after = {k: v for k, v in states["fit"].items() if k in original}
    assert set(after) == set(original)
    for key, value in original.items():
        assert torch.equal(after[key], value), (
            f"encoder entry {key} changed during linear evaluation"
        )
    assert not any(states["requires_grad"].values())
    assert not any(states["training"].values()), "the frozen encoder must stay in eval mode"
    assert states["pretrained_class"] == "StructuredSSL"

    # fit and test logged into ONE run directory (test found it with --ckpt_path last)
    runs = sorted({p.parent for p in tmp_path.rglob("events.out.tfevents.*")})
    assert len(runs) == 1 and runs[0].parent.name == "linear_eval"
    logged = scalars(runs[0])
    for tag in ("val/linear_acc", "test/linear_acc", "test_rotated/linear_acc"):
        assert logged.get(tag), f"{tag} was not logged"
        assert all(0.0 <= v <= 1.0 for v in logged[tag]), (tag, logged[tag])
    checkpoint = read_checkpoint(runs[0] / "checkpoints" / "last.ckpt")
    assert not any(k.startswith("encoder.") for k in checkpoint["state_dict"]), (
        "classifier-only checkpoint"
    )

    # compare names the run by what it evaluated, and reads the same numbers
    (row,) = collect(tmp_path)
    assert (row.objective, row.group, row.loss) == (
        "LinearEval(StructuredSSL, invariant)",
        "C8",
        "NTXent",
    )
    assert (row.test_acc, row.rotated_acc) == (
        logged["test/linear_acc"][-1],
        logged["test_rotated/linear_acc"][-1],
    )


def python_checkpoint(path: Path, prefix: str) -> StructuredSSL:
    """A checkpoint of a model built in Python (objects in hparams, no class path), keys
    under a wrapper prefix, as other training scripts write them."""
    torch.manual_seed(0)
    model = StructuredSSL(group=Group("rotation", 4))
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": dict(model.hparams)}, path)
    return model


def test_checkpoint_with_prefixed_keys_and_no_class_path_loads(tmp_path: Path) -> None:
    model = python_checkpoint(tmp_path / "wrapped.ckpt", prefix="model._orig_mod.")
    evaluator = LinearEval(str(tmp_path / "wrapped.ckpt"), image_size=21)
    assert evaluator.pretrained_class == "unknown" and evaluator.group == Group("rotation", 4)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(evaluator.encoder.state_dict()[key], value)
    lifted = LinearEval(str(tmp_path / "wrapped.ckpt"), features="lifted")
    x = torch.rand(2, 1, 21, 21)
    with torch.no_grad():
        z = model.eval().encoder(x)
        assert torch.allclose(lifted.read_features(x), z.flatten(1), atol=1e-5)
        assert torch.allclose(evaluator.read_features(x), model.encoder.invariant(z), atol=1e-5)
    assert evaluator.probe[1].in_features == model.encoder.out_channels
    assert lifted.probe[1].in_features == z[0].numel()
    assert [n for n, p in evaluator.named_parameters() if p.requires_grad] == [
        "probe.1.weight",
        "probe.1.bias",
    ]
    assert set(evaluator.hparams) == {
        "checkpoint",
        "features",
        "lr",
        "weight_decay",
        "momentum",
        "in_channels",
        "image_size",
        "num_classes",
    }


def test_data_that_does_not_match_the_checkpoint_is_named(tmp_path: Path) -> None:
    python_checkpoint(tmp_path / "c.ckpt", prefix="")
    with pytest.raises(ValueError, match=r"model\.image_size=28 .*image_size=21"):
        LinearEval(str(tmp_path / "c.ckpt"), image_size=28)
    with pytest.raises(ValueError, match=r"model\.num_classes=3 .*num_classes=10"):
        LinearEval(str(tmp_path / "c.ckpt"), num_classes=3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LinearEval(str(tmp_path / "missing.ckpt"))


def test_encoder_stays_in_eval_mode_when_lightning_calls_train(tmp_path: Path) -> None:
    python_checkpoint(tmp_path / "c.ckpt", prefix="")
    evaluator = LinearEval(str(tmp_path / "c.ckpt")).train()
    assert evaluator.probe.training
    assert not any(m.training for m in evaluator.encoder.modules())
