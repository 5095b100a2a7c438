"""Any ``(z0, z1)`` loss through the config's ``class_path`` (lightly's when importable).

lightly needs torchvision, which does not import beside every torch build; its own test skips
then, with the reason. ``tests/ssl/lightly_standin.py`` has lightly's ``NTXentLoss`` signature and
runs everywhere, and records its calls so the test sees training go through it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_args import quiet
from lightly_standin import NTXentLoss as LightlyStandIn

from structured_ssl.cli import main
from structured_ssl.ssl.external_loss import ExternalPairLoss, as_pair_loss
from structured_ssl.ssl.losses import NTXent

REPO = Path(__file__).resolve().parents[2]


def test_own_losses_are_kept_and_others_wrapped() -> None:
    own = NTXent(temperature=0.1)
    assert as_pair_loss(own) is own
    wrapped = as_pair_loss(torch.nn.MSELoss())
    assert isinstance(wrapped, ExternalPairLoss)
    z0, z1 = torch.zeros(4, 3), torch.ones(4, 3)
    assert wrapped(z0, z1)["loss"].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected a scalar"):
        as_pair_loss(torch.nn.MSELoss(reduction="none"))(z0, z1)


def external_loss(class_path: str, init_args: str = "{}") -> str:
    inner = f"{{class_path: {class_path}, init_args: {init_args}}}"
    return f"--model.init_args.loss={{class_path: structured_ssl.ssl.external_loss.ExternalPairLoss, init_args: {{loss: {inner}}}}}"  # noqa: E501


def fit_with(loss: str, root: Path) -> None:
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            loss,
            "--trainer.fast_dev_run=true",
            *quiet(root),
        ]
    )


def test_an_input_target_loss_by_class_path_trains(tmp_path: Path) -> None:
    fit_with(external_loss("torch.nn.MSELoss"), tmp_path)


def test_a_loss_with_lightlys_signature_by_class_path_is_what_trains(tmp_path: Path) -> None:
    LightlyStandIn.calls.clear()
    fit_with(external_loss("lightly_standin.NTXentLoss", "{temperature: 0.2}"), tmp_path)
    calls = LightlyStandIn.calls
    assert calls, "the configured loss was never called"
    assert all(c["temperature"] == 0.2 for c in calls), "init_args reached the loss"
    (b0, d0), (b1, d1) = calls[0]["shapes"]  # type: ignore[misc]
    assert b0 == b1 > 1 and d0 == d1, calls[0]
    assert any(c["requires_grad"] for c in calls), "a training step backpropagated through it"


def test_lightlys_ntxent_by_class_path_trains(tmp_path: Path) -> None:
    try:
        import lightly.loss  # noqa: F401
    except Exception as error:  # lightly imports torchvision, which may fail to load its ops
        pytest.skip(f"lightly is not importable here: {type(error).__name__}: {error}"[:200])
    fit_with(external_loss("lightly.loss.NTXentLoss", "{temperature: 0.1}"), tmp_path)
