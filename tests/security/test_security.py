"""Untrusted files never run code: crafted checkpoints on every path that reads one.

Each test builds a hostile or broken file and hands it to the reader a user would use
(offline linear evaluation, ``--ckpt_path`` of the CLI, the trainer's checkpoint IO). It
asserts that the payload did not run (its marker file, outside the run directory, is absent),
that nothing outside the run directory was written, and that the error is one line naming the
file. ``test_the_payload_runs_when_unpickled_unsafely`` shows that the payload is live, so
"absent" means "refused". Data files, results and logs: tests/security/test_security_data.py.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_args import quiet
from security_sandbox import Payload, Sandbox, make_sandbox, one_line_naming

from structured_ssl.callbacks.resilience import AtomicCheckpointIO
from structured_ssl.cli import main
from structured_ssl.config.field_checks import CheckpointError
from structured_ssl.groups import Group
from structured_ssl.methods import StructuredSSL
from structured_ssl.methods.checkpoints import load_checkpoint, project_types
from structured_ssl.methods.linear_eval import LinearEval

REPO = Path(__file__).resolve().parents[2]
LINEAR = str(REPO / "configs/eval/linear.yaml")
DEFAULT = str(REPO / "configs/default.yaml")


@pytest.fixture
def unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox the test must seal; checked when the test ends."""
    box = make_sandbox(tmp_path, monkeypatch)
    yield box
    box.check()


def test_the_payload_runs_when_unpickled_unsafely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = make_sandbox(tmp_path, monkeypatch)
    pickle.loads(pickle.dumps(Payload(sandbox.marker)))
    assert sandbox.marker.exists()


# ----------------------------------------------------------------------------- checkpoints
def evil_checkpoint(sandbox: Sandbox, name: str = "evil.ckpt") -> Path:
    path = sandbox.root / name
    torch.save({"state_dict": {}, "hyper_parameters": {"group": Payload(sandbox.marker)}}, path)
    return path


def test_evaluating_a_checkpoint_with_a_pickle_payload_is_refused(unchanged: Sandbox) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(CheckpointError) as error:
        LinearEval(str(path))
    message = one_line_naming(str(error.value), path)
    assert "posix.system" in message and "--model.init_args.trust_checkpoint=true" in message


def test_linear_eval_cli_refuses_the_payload_in_one_line(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "fit",
                "--config",
                LINEAR,
                f"--model.init_args.checkpoint={path}",
                *quiet(unchanged.run),
            ]
        )
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, path)


def test_resume_from_an_explicit_checkpoint_with_a_payload_is_refused(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    path = evil_checkpoint(unchanged)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", DEFAULT, f"--ckpt_path={path}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "--weights_only=false" in one_line_naming(line, path)


def test_resume_last_with_a_payload_is_refused_even_when_torch_is_told_to_trust(
    unchanged: Sandbox, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ckpt_path last`` reaches only the trainer's checkpoint IO, and Lightning passes it
    ``weights_only=None``: torch's default, which this variable turns into the full unpickler."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    last = unchanged.run / "resume" / "version_0" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    checkpoint = {
        "state_dict": {},
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": "2.6.0",
    }
    torch.save(
        {**checkpoint, "callbacks": {"ExactResume": {"ranks": [Payload(unchanged.marker)]}}}, last
    )
    unchanged.seal()
    args = [
        "fit",
        "--config",
        DEFAULT,
        "--ckpt_path=last",
        "--trainer.logger.init_args.name=resume",
    ]
    with pytest.raises(SystemExit) as exit_:
        main([*args, *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, last)


def test_a_checkpoint_cannot_switch_on_trust_for_the_file_it_names(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    """LightningCLI copies ``--ckpt_path``'s hyperparameters into the model's arguments; a
    crafted linear-eval checkpoint asks for ``trust_checkpoint`` and names a hostile file."""
    pretrained = evil_checkpoint(unchanged, "pretrained.ckpt")
    hparams = {
        "_class_path": "structured_ssl.methods.linear_eval.LinearEval",
        "checkpoint": str(pretrained),
    }
    crafted = unchanged.root / "linear.ckpt"
    torch.save(
        {"state_dict": {}, "hyper_parameters": {**hparams, "trust_checkpoint": True}}, crafted
    )
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", LINEAR, f"--ckpt_path={crafted}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "posix.system" in one_line_naming(line, pretrained)


@pytest.mark.parametrize(
    "hparams",
    [
        {"_class_path": "subprocess.Popen", "args": ["touch", "MARKER"]},
        {
            "_class_path": "structured_ssl.methods.StructuredSSL",
            "loss": {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", "MARKER"]}},
        },
    ],
)
def test_a_checkpoint_selects_only_project_classes(
    unchanged: Sandbox, capsys: pytest.CaptureFixture, hparams: dict
) -> None:
    """The hyperparameters LightningCLI copies from ``--ckpt_path`` are type-checked like a
    config: the model must be an SSLMethod, its loss a PairLoss."""
    path = unchanged.root / "classes.ckpt"
    hparams = json.loads(json.dumps(hparams).replace("MARKER", str(unchanged.marker)))
    torch.save({"state_dict": {}, "hyper_parameters": hparams}, path)
    unchanged.seal()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", DEFAULT, f"--ckpt_path={path}", *quiet(unchanged.run)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith(f"error: {path}")]
    one_line_naming(line, path)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_a_broken_checkpoint_is_named(unchanged: Sandbox, kind: str) -> None:
    path = unchanged.root / f"{kind}.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(100)}}, path)
    data = path.read_bytes()
    path.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": bytes(range(256)) * 2, "empty": b""}[kind]
    )
    unchanged.seal()
    for read in (load_checkpoint, AtomicCheckpointIO().load_checkpoint):
        with pytest.raises(CheckpointError) as error:
            read(path)
        one_line_naming(str(error.value), path)


def test_resume_of_a_trusted_checkpoint_needs_the_explicit_flag(
    unchanged: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    """A real ``last.ckpt`` holding one type outside the allow-list (a harmless Fraction):
    refused by default, resumed with ``--weights_only=false``."""
    short = [
        "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0",
        "--data.init_args.train_subset=64",
    ]
    main(["fit", "--config", DEFAULT, "--trainer.max_steps=1", *short, *quiet(unchanged.run)])
    (last,) = unchanged.run.rglob("checkpoints/last.ckpt")
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["hyper_parameters"]["note"] = Fraction(1, 3)
    trusted = unchanged.root / "trusted.ckpt"
    torch.save(checkpoint, trusted)
    unchanged.seal()
    resume = [
        "fit",
        "--config",
        DEFAULT,
        "--trainer.max_steps=2",
        *short,
        f"--ckpt_path={trusted}",
        *quiet(unchanged.run),
    ]
    with pytest.raises(SystemExit):
        main(resume)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "fractions.Fraction" in one_line_naming(line, trusted)
    main([*resume, "--weights_only=false"])
    assert (
        max(
            torch.load(p, weights_only=True)["global_step"]
            for p in unchanged.run.rglob("last.ckpt")
        )
        == 2
    )


def test_random_bytes_never_escape_as_anything_but_a_named_checkpoint_error(tmp_path: Path) -> None:
    """A parser fed garbage fails in many ways (IndexError, KeyError, struct.error...)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.ckpt"
    for size in rng.choice([1, 2, 8, 64, 256], size=300):
        path.write_bytes(rng.bytes(int(size)))
        try:
            load_checkpoint(path)
        except CheckpointError as error:
            one_line_naming(str(error), path)


def test_the_project_types_load_and_others_only_when_trusted(tmp_path: Path) -> None:
    """The allow-list covers what save_hyperparameters stores for a model built in Python."""
    from structured_ssl.ssl import losses

    model = StructuredSSL(group=Group("rotation", 4), loss=losses.VICReg())
    saved = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    saved["hyper_parameters"]["losses"] = [
        cls() for cls in project_types() if issubclass(cls, losses.PairLoss)
    ]
    torch.save(saved, tmp_path / "python.ckpt")
    loaded = load_checkpoint(tmp_path / "python.ckpt")
    assert loaded["hyper_parameters"]["group"] == Group("rotation", 4)
    assert [type(x) for x in loaded["hyper_parameters"]["losses"]] == [
        type(x) for x in saved["hyper_parameters"]["losses"]
    ]
    assert all(torch.equal(loaded["state_dict"][k], v) for k, v in saved["state_dict"].items())

    # a harmless type outside the allow-list: refused by default, read when the user trusts it
    saved["hyper_parameters"]["note"] = Fraction(1, 3)
    torch.save(saved, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"fractions\.Fraction"):
        load_checkpoint(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"fractions\.Fraction"):
        AtomicCheckpointIO().load_checkpoint(tmp_path / "other.ckpt")
    assert AtomicCheckpointIO().load_checkpoint(tmp_path / "other.ckpt", weights_only=False)[
        "hyper_parameters"
    ]["note"] == Fraction(1, 3)
    evaluator = LinearEval(str(tmp_path / "other.ckpt"), trust_checkpoint=True)
    assert "trust_checkpoint" not in evaluator.hparams, "trust is never recorded in a checkpoint"


def test_a_remote_checkpoint_with_a_payload_is_refused(
    unchanged: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remote paths (fsspec, http) go through Lightning's reader, which defaults URLs to the
    full unpickler; ``memory://`` stands in for a remote filesystem here."""
    import fsspec

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    url = "memory://shared/evil.ckpt"
    with fsspec.open(url, "wb") as f:
        torch.save({"state_dict": {}, "hyper_parameters": Payload(unchanged.marker)}, f)
    unchanged.seal()
    with pytest.raises(CheckpointError) as error:
        AtomicCheckpointIO().load_checkpoint(url)
    assert "posix.system" in one_line_naming(str(error.value), url)
