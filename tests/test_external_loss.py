"""Any ``(z0, z1)`` loss through the config's ``class_path`` (lightly's when importable)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from structured_ssl.cli import main
from structured_ssl.ssl.external_loss import ExternalPairLoss, as_pair_loss
from structured_ssl.ssl.losses import NTXent

REPO = Path(__file__).resolve().parents[1]


def quiet(root: Path) -> list[str]:
    return [
        f"--trainer.logger.init_args.save_dir={root}",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


def test_own_losses_are_kept_and_others_wrapped() -> None:
    own = NTXent(temperature=0.1)
    assert as_pair_loss(own) is own
    wrapped = as_pair_loss(torch.nn.MSELoss())
    assert isinstance(wrapped, ExternalPairLoss)
    z0, z1 = torch.zeros(4, 3), torch.ones(4, 3)
    assert wrapped(z0, z1)["loss"].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected a scalar"):
        as_pair_loss(torch.nn.MSELoss(reduction="none"))(z0, z1)


LOSSES = ["torch.nn.MSELoss"] + (
    ["lightly.loss.NTXentLoss"] if importlib.util.find_spec("lightly") else []
)


@pytest.mark.parametrize("class_path", LOSSES)
def test_a_z0_z1_loss_by_class_path_trains(class_path: str, tmp_path: Path) -> None:
    loss = f"--model.init_args.loss={{class_path: structured_ssl.ssl.external_loss.ExternalPairLoss, init_args: {{loss: {class_path}}}}}"  # noqa: E501
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs/default.yaml"),
            loss,
            "--trainer.fast_dev_run=true",
            *quiet(tmp_path),
        ]
    )
