"""What a new user mistypes: each bad input ends in ONE line on stderr, exit status 2, before
anything is built, naming the field, the value and what is allowed, with the right hint or none.

The cases run in-process through the real entry point (``structured_ssl.cli.main``), with the
encoder factory replaced by one that fails the test if called: no model may be built. The
table "What a mistyped setting prints" of docs/guides/configs.md lists the same flags; a test keeps the two in step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from structured_ssl.cli import main

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BadInput:
    name: str
    flags: tuple[str, ...]
    expected: tuple[str, ...]  # field, value and what is allowed, as printed
    hint: str | None = None  # "did you mean X?" when one follows from the error, else no hint
    config: tuple[str, ...] = ("configs/default.yaml",)  # composed in order


CASES = (
    BadInput("max-epochs", ("--trainer.max_epochs=-5",), ("trainer.max_epochs=-5", "-1 for no limit")),
    BadInput("lr", ("--model.init_args.optimizer.lr=-0.1",), ("model.init_args.optimizer.lr=-0.1", "> 0")),
    BadInput("weight-decay", ("--model.init_args.optimizer.weight_decay=-1",), ("optimizer.weight_decay=-1", ">= 0")),
    BadInput("temperature", ("--model.init_args.loss.init_args.temperature=0",), ("loss.init_args.temperature=0", "> 0")),
    BadInput(
        "group-kind", ("--model.init_args.group.kind=rotaton",),
        ("group.kind='rotaton'", "'rotation', 'dihedral', 'translation', 'scale'"), hint="rotation",
    ),
    BadInput(
        "architecture", ("--model.init_args.encoder.architecture=resnet50",),
        ("model.init_args.encoder.architecture='resnet50'", "'small', 'paper_mnist', 'paper_cifar', 'paper_tiny'"),
    ),
    BadInput("optimizer-name", ("--model.init_args.optimizer.name=sgdx",), ("optimizer.name='sgdx'", "'sgd', 'adamw', 'lars'"), hint="sgd"),
    BadInput("image-size", ("--data.init_args.image_size=5",), ("data.image_size=5", "data.digit_size=14", "hold the resized digit")),
    BadInput("digit-size", ("--data.init_args.digit_size=0",), ("data.digit_size must be >= 1", "got 0")),
    BadInput("unknown-model-key", ("--model.init_args.grop.kind=rotation",), ("model.init_args.grop.kind=rotation", "StructuredSSL accepts group, encoder"), hint="group"),
    BadInput("unknown-nested-key", ("--model.init_args.group.kindd=rotation",), ("group.kindd=rotation", "accepts kind, order, scales"), hint="kind"),
    BadInput("unknown-loss-key", ("--model.init_args.loss.init_args.temprature=0.5",), ("loss.init_args.temprature", "NTXent accepts temperature"), hint="temperature"),
    BadInput(
        "unknown-augmentation-key", ("--model.init_args.max_shift_fractio=0.1",),
        ("model.init_args.max_shift_fractio", "AugmentationSSL has no such argument"), hint="max_shift_fraction",
        config=("configs/objectives/augmentation.yaml",),
    ),
    BadInput("unknown-data-key", ("--data.init_args.imagesize=5",), ("data.init_args.imagesize", "DigitsDataModule accepts image_size"), hint="image_size"),
    BadInput("unknown-trainer-key", ("--trainer.max_epocs=3",), ("trainer.max_epocs=3", "Trainer has no such argument"), hint="max_epochs"),
    BadInput("unknown-top-key", ("--bogus=1",), ("bogus=1", "unknown key 'bogus'")),
    BadInput("type-int", ("--trainer.max_epochs=abc",), ("trainer.max_epochs='abc'", "expected an integer or null")),
    BadInput("type-batch", ("--data.init_args.batch_size=1.5",), ("batch_size='1.5'", "expected an integer")),
    BadInput("type-order", ("--model.init_args.group.order=abc",), ("group.order='abc'", "expected an integer")),
    BadInput("precision", ("--trainer.precision=fp8",), ("trainer.precision='fp8'", "'bf16-mixed'")),
    BadInput(
        "objective-class", ("--model.class_path=structured_ssl.methods.Foo",),
        ("model='structured_ssl.methods.Foo'", "structured_ssl.methods.AugmentationSSL", "structured_ssl.methods.StructuredSSL"),
    ),
    BadInput(
        "loss-class", ("--model.init_args.loss=structured_ssl.ssl.losses.Contrastive",),
        ("model.init_args.loss='structured_ssl.ssl.losses.Contrastive'", "structured_ssl.ssl.losses.NTXent", "structured_ssl.ssl.losses.VICReg"),
    ),
    BadInput("config-file", ("--config=no-such-config.yaml",), ("no-such-config.yaml", "file does not exist")),
    BadInput("ckpt-missing", ("--ckpt_path=no-such.ckpt",), ("ckpt_path='no-such.ckpt' does not exist", "last, best, hpc")),
    BadInput("ckpt-not-a-checkpoint", ("--ckpt_path=configs/default.yaml",), ("ckpt_path='configs/default.yaml' is not a PyTorch checkpoint",)),
    BadInput("accelerator", ("--trainer.accelerator=gpu",), ("trainer.accelerator='gpu' is not available", "auto, cpu")),
    BadInput("devices", ("--trainer.devices=0",), ("trainer.devices=0", ">= 1, -1 (all)")),
    BadInput("num-nodes", ("--trainer.num_nodes=0",), ("trainer.num_nodes=0", ">= 1")),
    BadInput(
        "data-dir", ("--data.init_args.data_dir=no-such-dir", "--data.init_args.download=false"),
        ("data.data_dir='no-such-dir' does not exist", "data.download=true"), config=("configs/objectives/structured.yaml", "configs/datasets/mnist.yaml", "configs/groups/rotation_c4.yaml"),
    ),
    # clean before this change; kept so
    BadInput("group-order", ("--model.init_args.group.order=1",), ("group.order=1", "order >= 2")),
    BadInput("g0-size", ("--model.init_args.pairs.g0_size=8",), ("pairs.g0_size=8", "at most 7")),
    BadInput("negative-distance", ("--model.init_args.pairs.max_distance=-1",), ("pairs.max_distance=-1.0", ">= 0 or null")),
    BadInput("batch", ("--data.init_args.batch_size=1",), ("data.batch_size=1", "at least 2")),
    BadInput("batch-per-process", ("--data.init_args.batch_size=1", "--trainer.devices=2", "--trainer.accelerator=cpu"), ("data.batch_size=1", "per-process")),
)  # fmt: skip


@pytest.fixture
def no_model_build(monkeypatch):
    """The encoder factory fails the test if anything builds a model."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was built before the bad input was reported")

    monkeypatch.setattr("structured_ssl.methods.base.build_encoder", forbidden)
    monkeypatch.setattr(
        "torch.cuda.is_available", lambda: False
    )  # the accelerator case, on any machine


def run_bad(case: BadInput, tmp_path: Path, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        configs = [item for path in case.config for item in ("--config", path)]
        main(["fit", *configs, f"--trainer.default_root_dir={tmp_path}", *case.flags])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, captured.err
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_naming_field_value_and_what_is_allowed(
    case: BadInput, tmp_path, capsys, no_model_build, monkeypatch
) -> None:
    monkeypatch.chdir(REPO)  # relative paths in the cases are relative to the repository
    err = run_bad(case, tmp_path, capsys)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in case.expected:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"
    if case.hint is None:
        assert "did you mean" not in lines[0] and "hint" not in lines[0], lines[0]
    else:
        assert f"did you mean {case.hint}?" in lines[0], lines[0]
    assert not list(tmp_path.iterdir()), "a bad input left files behind"
    assert documented_lines()[" ".join(case.flags)] == as_documented(lines[0]), (
        "docs/guides/configs.md shows another line for this flag than the CLI prints"
    )


DOCUMENTED_LENGTH = 230  # longer lines are cut there, with "..."


def as_documented(line: str) -> str:
    """The printed line as the guide's table shows it: no machine path, cut, pipes escaped."""
    shown = line.removeprefix("error: ").replace(str(REPO), "<clone>")
    if len(shown) > DOCUMENTED_LENGTH:
        shown = shown[: DOCUMENTED_LENGTH - 3] + "..."
    return shown.replace("|", "\\|")


def documented_lines() -> dict[str, str]:
    """Flags -> the line the guide's table "What a mistyped setting prints" shows for them."""
    guide = (REPO / "docs" / "guides" / "configs.md").read_text()
    section = guide.split("## What a mistyped setting prints", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {row.split("`")[1]: row.rsplit(" | ", 1)[1].removesuffix(" |") for row in rows}


def test_there_are_at_least_20_cases_and_the_configs_guide_lists_each() -> None:
    assert len(CASES) >= 20
    assert set(documented_lines()) == {" ".join(c.flags) for c in CASES}, (
        "docs/guides/configs.md table and CASES differ"
    )


def test_the_console_script_prints_only_the_error_line(tmp_path: Path) -> None:
    """Through the installed entry point in a fresh process: nothing else on stderr (no
    warning, no 'Seed set' line, no usage dump)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONWARNINGS": "default"}
    result = subprocess.run(
        [sys.executable, "-c", "from structured_ssl.cli import main; main()", "fit", "--config", "configs/default.yaml", "--model.init_args.optimizer.lr=-0.1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: model.init_args.optimizer.lr=-0.1 is not allowed: expected a finite number > 0"
    ], result.stderr
