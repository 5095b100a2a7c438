"""The paper's read-outs, its linear evaluation, and a Frozen run that trains nothing."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from structured_ssl.callbacks.online_eval import TestLinearEval
from structured_ssl.data import DigitsDataModule
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.encoders.readout import BatchNormReadout, ConvReadout
from structured_ssl.groups import Group
from structured_ssl.lifted.base import pool_invariant
from structured_ssl.methods import Frozen, StructuredSSL, Supervised

C4 = Group(kind="rotation", order=4)


# ----------------------------------------------------------------------------- read-outs
@pytest.mark.parametrize(
    ("architecture", "size", "channels", "width"),
    [("small", 29, 3, 128), ("paper_mnist", 29, 1, 128), ("paper_cifar", 33, 3, 512)],
)
def test_paper_readout_shapes(architecture: str, size: int, channels: int, width: int) -> None:
    kernels = (11, 7, 7) if architecture == "small" else None
    encoder = build_encoder(
        EncoderSpec(architecture, kernel_sizes=kernels, readout="paper"), C4, channels, size
    ).eval()
    expected = BatchNormReadout if architecture == "paper_cifar" else ConvReadout
    assert isinstance(encoder.readout, expected)
    with torch.no_grad():
        assert encoder.invariant(encoder(torch.randn(2, channels, size, size))).shape == (2, width)
    assert encoder.invariant_dim == width
    assert any(key.startswith("readout.") for key in encoder.state_dict())  # saved with the encoder


def test_pool_stays_the_default() -> None:
    encoder = build_encoder(EncoderSpec(), C4, 1, 21).eval()
    z = torch.randn(2, encoder.out_channels, 4, 6, 6)
    assert "readout" not in encoder._modules
    assert torch.equal(encoder.invariant(z), pool_invariant(z))


def test_bad_readout_is_named() -> None:
    with pytest.raises(ValueError, match="encoder.readout='max'"):
        EncoderSpec(readout="max")  # type: ignore[arg-type]


@pytest.mark.parametrize("readout", ["conv", "bn_chain"])
def test_readouts_are_invariant_under_the_group(readout: str) -> None:
    """Γ_g on a 9x9 lifted map (windows of the stride-2 head symmetric about the centre):
    the read-out does not move. The conv head transforms its filter per group slice."""
    torch.manual_seed(0)
    kit = C4.layer_kit()
    action = kit.action(1, 16, 1)
    head = (
        ConvReadout(16, 128, 9, kit.filter_copies) if readout == "conv" else BatchNormReadout(16)
    ).eval()
    for module in head.modules():  # non-trivial BN statistics and affine parameters
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    z = torch.randn(3, 16, 4, 9, 9)
    with torch.no_grad():
        reference = head(z)
        for g in [(1,), (2,), (3,)]:
            assert torch.allclose(head(action.transform_output(z, g)), reference, atol=1e-4), g


def _digits_batch(n: int = 8, size: int = 29) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(n, 1, size, size), torch.arange(n) % 10


def test_ssl_never_moves_the_readout_supervised_does() -> None:
    """The paper's split: SSL losses read fibers before the read-out, the probe reads it
    detached; Supervised trains the read-out with the backbone."""
    spec = EncoderSpec("small", kernel_sizes=(11, 7, 7), readout="paper")
    x, y = _digits_batch()
    ssl = StructuredSSL(group=C4, encoder=spec, image_size=29)
    ssl.training_step((x, y), 0).backward()
    assert ssl.encoder.readout.weight.grad is None or not ssl.encoder.readout.weight.grad.any()
    assert any(
        p.grad is not None and p.grad.any()
        for n, p in ssl.encoder.named_parameters()
        if not n.startswith("readout.")
    )
    supervised = Supervised(group=C4, encoder=spec, image_size=29)
    supervised.training_step((x, y), 0).backward()
    assert (
        supervised.encoder.readout.weight.grad is not None
        and supervised.encoder.readout.weight.grad.any()
    )
    assert supervised.encoder.readout in [m for m in supervised.modules()]
    assert any(p is supervised.encoder.readout.weight for p in supervised.trainable_parameters())


# ----------------------------------------------------------------------------- linear evaluation
class Identity(L.LightningModule):
    """A model whose embedding is its input (the evaluation's features are the data)."""

    num_classes = 2

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Linear(1, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes on either side of a hyperplane with a margin: linear accuracy 100%."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    w = torch.tensor([1.0, -2.0, 0.5, 0.0, 1.0])
    score = x @ w
    keep = score.abs() > 0.5
    return x[keep], (score[keep] > 0).long()


def test_linear_eval_reaches_the_known_accuracy_and_fits_on_train_only() -> None:
    train, test = _separable(2000, 0), _separable(1000, 1)
    evaluation = TestLinearEval()
    accuracy = evaluation.evaluate(
        Identity(), TensorDataset(*train), {"test": TensorDataset(*test)}
    )
    assert float(accuracy["test"]) == 1.0  # separable with a margin: a converged fit is perfect
    weights = evaluation.fitted.linear.weight.clone()
    # the same fit when the test labels are scrambled and the test features replaced: the
    # classifier is fitted on the training split only
    scrambled = TensorDataset(torch.randn_like(test[0]) * 100, 1 - test[1])
    again = TestLinearEval().evaluate(Identity(), TensorDataset(*train), {"test": scrambled})
    assert float(again["test"]) < 0.9
    fitted = TestLinearEval()
    fitted.evaluate(Identity(), TensorDataset(*train), {"test": scrambled})
    assert torch.equal(fitted.fitted.linear.weight, weights)


def test_linear_eval_reads_the_whole_training_split_by_default() -> None:
    seen: list[int] = []

    class Counting(Identity):
        def embed(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(len(x))
            return x

    train = _separable(30000, 2)
    TestLinearEval(max_iter=5).evaluate(Counting(), TensorDataset(*train), {})
    assert sum(seen) == len(train[0]) > 20000


# ----------------------------------------------------------------------------- Frozen
def test_frozen_fit_trains_nothing(tmp_path: Path) -> None:
    data = DigitsDataModule(batch_size=64, image_size=21, train_subset=256)
    model = Frozen(group=Group(kind="rotation", order=8), image_size=21)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = L.Trainer(
        max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        limit_val_batches=1, default_root_dir=tmp_path, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 0 and trainer.current_epoch == 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights, probe and BN statistics
