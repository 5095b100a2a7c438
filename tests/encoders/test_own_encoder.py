"""A researcher's own encoder: measured, refused in one line when it breaks the contract, and
trained by every objective, from Python and from a config (issue 29, item 3)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from escnn import gspaces
from escnn import nn as enn
from own_encoders import MyEscnnEncoder, MyResNetEncoder, resnet_trunk
from torch import nn

from structured_ssl.data.digits import DigitsDataModule
from structured_ssl.encoders.equivariance import measure
from structured_ssl.encoders.own_cnn import PlainCNNEncoder
from structured_ssl.encoders.own_escnn import EscnnEncoder
from structured_ssl.groups import Group
from structured_ssl.lifted.contract import EncoderContractError, check_encoder
from structured_ssl.lifted.probes import probe_images
from structured_ssl.methods import (
    AugmentationSSL,
    Frozen,
    HybridSSL,
    StructuredSSL,
    Supervised,
)

REPO = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent  # own_encoders.py, importable by class path
C4 = Group(kind="rotation", order=4)
T = Group(kind="translation")


def own_encoders() -> list[tuple[nn.Module, Group]]:
    return [(MyEscnnEncoder(order=4), C4), (MyResNetEncoder(), T)]


@pytest.mark.parametrize("index", [0, 1], ids=["escnn-R2Conv-stack", "resnet-trunk"])
def test_own_encoders_satisfy_the_contract_and_meet_their_bound(index: int) -> None:
    encoder, group = own_encoders()[index]
    check_encoder(encoder, group, in_channels=1, image_size=21)
    bound = encoder.equivariance_bound()
    assert bound is not None
    rows = measure(encoder.eval(), probe_images(1, 21))
    assert rows and all(r.within(bound) for r in rows), rows
    assert max(r.fiber for r in rows) < 1e-5


def test_a_plain_trunk_is_exact_only_because_its_padding_is_made_circular() -> None:
    """The adapter's circular padding is what makes a ResNet's shift exact: with the trunk's own
    zero padding (the adapter's conversion undone) the same check misses the bound."""
    encoder = PlainCNNEncoder(resnet_trunk()).eval()
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d):
            module.padding_mode = "zeros"
        if isinstance(module, nn.CircularPad2d):
            module.padding = (0, 0, 0, 0)
    worst = max(r.fiber for r in measure(encoder, probe_images(1, 21)))
    assert worst > 1e-2


def test_escnn_types_that_are_not_a_lifted_layout_are_one_line() -> None:
    gspace = gspaces.rot2dOnR2(N=4)
    image = enn.FieldType(gspace, [gspace.trivial_repr])
    irreps = enn.FieldType(gspace, [gspace.irrep(1)] * 3)
    with pytest.raises(ValueError, match=r"encoder.out_type has 'irrep_1' fields; .*regular"):
        EscnnEncoder(enn.R2Conv(image, irreps, 3, padding=1))
    with pytest.raises(ValueError, match=r"encoder.module=Conv2d: expected an escnn"):
        EscnnEncoder(nn.Conv2d(1, 4, 3))  # type: ignore[arg-type]


def test_a_global_pool_at_the_end_of_a_trunk_is_one_line() -> None:
    pooled = nn.Sequential(resnet_trunk(), nn.AdaptiveAvgPool2d(1))
    with pytest.raises(ValueError, match=r"encoder.trunk maps .* remove the global pooling"):
        PlainCNNEncoder(pooled)


class NoGammaEncoder(nn.Module):
    """Has everything but Γ_g: H-SSL would read pairs nobody can check."""

    group = C4
    out_channels = 4
    structured = True
    cell_pixels = 1
    invariant_dim = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), 4, 4, 3, 3)

    def fiber_map(self, z: torch.Tensor) -> torch.Tensor:
        return z.mean(dim=(-2, -1))

    def fiber_grid_cyclic(self) -> bool:
        return True

    def invariant(self, z: torch.Tensor) -> torch.Tensor:
        return z.amax(dim=2).mean(dim=(-2, -1))

    def transform_input(self, x: torch.Tensor, g: tuple[int, ...]) -> torch.Tensor:
        return torch.rot90(x, g[0], dims=(-2, -1))

    def comparable(self, z: torch.Tensor, g: tuple[int, ...]) -> torch.Tensor:
        return z

    def measured_fibers(self, maps):  # type: ignore[no-untyped-def]
        return maps.moved, maps.expected_part, maps.z

    def equivariance_bound(self) -> None:
        return None


def test_a_module_that_breaks_the_contract_is_refused_before_anything_trains() -> None:
    with pytest.raises(EncoderContractError, match=r"NoGammaEncoder has no 'transform_output'"):
        StructuredSSL(group=C4, encoder=NoGammaEncoder(), in_channels=1, image_size=21)
    with pytest.raises(
        EncoderContractError, match=r"group=.*translation.* differs from the model's group"
    ):
        StructuredSSL(group=C4, encoder=MyResNetEncoder(), in_channels=1, image_size=21)


METHODS = [StructuredSSL, AugmentationSSL, HybridSSL, Frozen, Supervised]


@pytest.mark.parametrize("method", METHODS, ids=[m.__name__ for m in METHODS])
@pytest.mark.parametrize("index", [0, 1], ids=["escnn", "resnet"])
def test_every_objective_trains_an_own_encoder_from_python(method: type, index: int) -> None:
    encoder, group = own_encoders()[index]
    before = {k: v.detach().clone() for k, v in encoder.named_parameters()}
    model = method(group=group, encoder=encoder, in_channels=1, image_size=21)
    assert model.encoder is encoder
    data = DigitsDataModule(batch_size=32, train_subset=64)
    trainer = L.Trainer(
        fast_dev_run=2,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data)
    after = dict(encoder.named_parameters())
    changed = any(not torch.equal(before[k], after[k]) for k in before)
    # Frozen trains only its probe; every other objective moves the user's weights
    assert changed is (method is not Frozen)
    assert "encoder" not in model.hparams  # a module is not pickled into checkpoints


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO / "src")])}
    return subprocess.run(
        [sys.executable, "-m", "structured_ssl.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_an_own_encoder_named_by_class_path_trains_and_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "own.yaml"
    config.write_text(
        "model:\n  init_args:\n    group: {kind: translation}\n"
        "    encoder:\n      class_path: own_encoders.MyResNetEncoder\n      init_args: {width: 4}\n"
    )
    fit = _cli(
        "fit",
        "--config", str(REPO / "configs" / "default.yaml"),
        "--config", str(config),
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        "--trainer.callbacks=[]",
        cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    saved = next((tmp_path / "runs").rglob("config.yaml")).read_text()
    assert "own_encoders.MyResNetEncoder" in saved
    check = _cli(
        "check",
        "--config", str(REPO / "configs" / "default.yaml"),
        "--encoder", "own_encoders.MyEscnnEncoder", "--encoder_init_args", "{order: 8}",
        cwd=tmp_path,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]
    assert "PASS" in check.stdout and "own_encoders.MyEscnnEncoder" in check.stdout


def test_a_config_naming_a_broken_encoder_is_one_line(tmp_path: Path) -> None:
    done = _cli(
        "fit",
        "--config", str(REPO / "configs" / "default.yaml"),
        "--model.init_args.encoder={class_path: own_encoders.MyResNetEncoder}",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "MyResNetEncoder.group" in lines[0] and "differs from the model's group" in lines[0]
    assert not list((tmp_path / "runs").rglob("*.ckpt"))


GUIDE = REPO / "docs" / "guides" / "own-encoder.md"
BLOCK = re.compile(r'```(python|yaml|bash)(?: title="([^"]+)")?\n(.*?)```', flags=re.S)


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    """docs/guides/own-encoder.md: titled blocks are the user's files, untitled python blocks
    run in a fresh interpreter (warnings are errors), bash lines run in that folder."""
    blocks = BLOCK.findall(GUIDE.read_text())
    assert [kind for kind, _, _ in blocks].count("python") == 3 and len(blocks) == 5
    (tmp_path / "configs").symlink_to(REPO / "configs")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    for kind, title, body in blocks:
        if title:
            (tmp_path / title).write_text(body)
        elif kind == "python":
            done = subprocess.run(
                # escnn's own py3nj notice is the only warning allowed (no Fortran build here)
                [sys.executable, "-W", "error", "-W", "ignore:`py3nj` package not found", "-c", body],
                capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
        else:
            for line in body.strip().splitlines():
                command = line.replace("PYTHONPATH=.", f"PYTHONPATH=.{os.pathsep}{REPO / 'src'}")
                done = subprocess.run(
                    command, shell=True, capture_output=True, text=True, cwd=tmp_path, env=env,
                    timeout=600,
                )  # fmt: skip
                assert done.returncode == 0, (line, done.stderr[-3000:])
                if " check " in line:
                    assert "PASS" in done.stdout and "my_encoders.MyTrunk" in done.stdout
