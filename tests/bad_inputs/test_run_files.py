"""No run rewrites or loses another's files, and disk faults end in one line (issue 31, 1 and 4).

* ``test`` / ``validate`` / ``predict`` of a fit's checkpoint store their own config beside the
  fit's (``config-test.yaml``, ...), never over it; the fit's files keep their bytes.
* Two processes creating a run at once get two version folders (claimed by ``os.mkdir``).
* ``predict`` writes a new folder each time and says where; a given ``output_dir`` holding
  embeddings is refused unless ``overwrite``; without a checkpoint it is refused unless Frozen.
* A resume that would train nothing is refused before training.
* A full disk at a checkpoint is one line naming the file and what is kept; a kill during a
  save leaves no file that a later ``--ckpt_path last`` trips on; earlier checkpoints load.

The probe rows of the same cases are in tests/bad_inputs/bad_input_cases_runs.py (their setups are used here).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import bad_input_cases_runs as cases
import pytest
import torch
import yaml

from structured_ssl.callbacks.claims import claim_folder
from structured_ssl.callbacks.resilience import AtomicCheckpointIO
from structured_ssl.callbacks.tb_logging import RunTensorBoardLogger
from structured_ssl.callbacks.write_faults import WriteFault
from structured_ssl.cli import main
from structured_ssl.data.download import remove_orphaned_parts
from structured_ssl.experiments.run_config import saved_fit_config
from structured_ssl.methods import StructuredSSL

REPO = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def fmt(argv: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in argv]


def refused(argv: list[str], tmp: Path, capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(fmt(argv, tmp))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert info.value.code == code and len(lines) == 1, err[-3000:]
    return lines[0]


def row(case_id: str) -> dict:
    (found,) = [c for c in cases.CASES if c["id"] == case_id]
    return found


@pytest.fixture
def fitted(tmp_path: Path) -> Path:
    cases.finished_fit(tmp_path)
    return tmp_path


# ----------------------------------------------------------------------------- item 1
def test_evaluation_commands_keep_the_fits_files_and_store_their_own_config(
    fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = fitted / cases.RUN
    before = snapshot(run)
    ckpt = run / "checkpoints" / "last.ckpt"
    common = ["--config", "default", f"--trainer.default_root_dir={fitted}/runs", *cases.SHORT]
    for command in ("test", "validate", "predict", "test", "predict"):
        main([command, *common, f"--ckpt_path={ckpt}"])
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k in before} == before, "a file of the fit changed"
    configs = sorted(p.name for p in run.glob("config*.yaml"))
    assert configs == [
        "config-predict-2.yaml", "config-predict.yaml", "config-test-2.yaml", "config-test.yaml",
        "config-validate.yaml", "config.yaml",
    ]  # fmt: skip
    fit_config = yaml.safe_load((run / "config.yaml").read_text())
    assert fit_config["trainer"]["max_epochs"] == 1
    assert "EmbeddingWriter" not in (run / "config.yaml").read_text()
    assert "EmbeddingWriter" in (run / "config-predict.yaml").read_text()
    # each predict wrote its own folder and said where
    err = capsys.readouterr().err
    written = [
        line.rsplit(" to ", 1)[1] for line in err.splitlines() if line.startswith("predict: wrote ")
    ]
    assert written == [
        str(run / "predictions" / "embeddings-rank0.pt"),
        str(run / "predictions-2" / "embeddings-rank0.pt"),
    ]
    first, second = (torch.load(p) for p in written)
    assert torch.equal(first["embeddings"], second["embeddings"]), "same checkpoint, same data"


def test_predict_refusals_and_the_explicit_ways_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(row("predict-without-checkpoint")["argv"], tmp_path, capsys)
    assert all(w in line for w in row("predict-without-checkpoint")["words"]), line
    assert not (tmp_path / "runs").exists()

    case = row("predict-output-dir-holds-embeddings")
    cases.earlier_embeddings(tmp_path)
    before = snapshot(tmp_path / "emb")
    line = refused(case["argv"], tmp_path, capsys)
    assert all(w in line for w in case["words"]), line
    assert snapshot(tmp_path / "emb") == before
    a_file = row("predict-output-dir-is-a-file")
    cases.a_file(tmp_path)
    line = refused(a_file["argv"], tmp_path, capsys)
    assert all(w in line for w in a_file["words"]), line
    assert (tmp_path / "afile").read_text() == "not a folder\n"
    # asked for explicitly: a Frozen model needs no checkpoint, overwrite replaces the file
    main(fmt([*case["argv"], "--trainer.callbacks.overwrite=true"], tmp_path))
    replaced = torch.load(tmp_path / "emb" / "embeddings-rank0.pt")
    assert replaced["embeddings"].shape[0] > 3
    assert f"to {tmp_path}/emb/embeddings-rank0.pt" in capsys.readouterr().err


def test_two_processes_never_claim_one_version_folder(tmp_path: Path) -> None:
    """Eight processes (forked: cheap) released at once each ask a logger for its version."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [
        context.Process(target=_version_after, args=(str(tmp_path), barrier, results))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    versions = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(versions) == list(range(8)), versions
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        f"version_{n}" for n in range(8)
    ]


def _version_after(save_dir: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(int(RunTensorBoardLogger(save_dir=save_dir, name="run").version))


def test_claim_folder_under_threads_gives_each_caller_its_own(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        claimed = list(
            pool.map(lambda _: claim_folder(tmp_path, (f"v{n}" for n in range(100))), range(16))
        )
    assert len(set(claimed)) == 16


def test_a_resume_keeps_the_fit_config_and_is_resumed_from_its_newest(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("a: 1\n")
    assert saved_fit_config(tmp_path) == tmp_path / "config.yaml"
    for name in ("config-resume.yaml", "config-resume-2.yaml", "config-resume-10.yaml"):
        (tmp_path / name).write_text("a: 2\n")
    assert saved_fit_config(tmp_path).name == "config-resume-10.yaml"


# ----------------------------------------------------------------------------- item 4
@pytest.mark.parametrize(
    "case_id", ["resume-as-saved-trains-nothing", "resume-last-trains-nothing"]
)
def test_a_resume_that_would_train_nothing_is_refused_before_training(
    case_id: str, fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = row(case_id)
    before = snapshot(fitted)
    line = refused(case["argv"], fitted, capsys)
    assert all(w in line for w in case["words"]), line
    assert snapshot(fitted) == before


def test_a_folder_name_too_long_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = row("default-root-dir-name-too-long")
    line = refused(case["argv"], tmp_path, capsys)
    assert all(w in line for w in case["words"]), line
    assert len(line) < 600 and list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_line_and_the_earlier_checkpoints_stay_loadable(
    fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = row("full-disk-at-a-checkpoint")
    checkpoints = fitted / cases.RUN / "checkpoints"
    before = snapshot(checkpoints)
    line = refused(case["argv"], fitted, capsys, code=1)
    assert all(w in line for w in case["words"]), line
    assert str(checkpoints) in line
    assert snapshot(checkpoints) == before, "a failed write changed or left a file"
    for path in checkpoints.glob("*.ckpt"):
        StructuredSSL.load_from_checkpoint(path, weights_only=False)  # strict


def test_a_failed_checkpoint_write_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    """The real torch.save path: its zip writer hides the OSError; the message names it."""
    import fault_injection

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)

    def full_disk(checkpoint: dict, file: object) -> None:
        file.file = fault_injection._FullAfter(file.file, 100)  # type: ignore[attr-defined]
        torch.save(checkpoint, file)

    io.write = full_disk  # type: ignore[method-assign]
    with pytest.raises(
        WriteFault, match=r"could not write the checkpoint .*last.ckpt: No space left"
    ):
        io.save_checkpoint({"step": torch.zeros(10_000)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert io.load_checkpoint(path)["step"] == 1


def test_a_kill_during_a_save_leaves_nothing_a_later_resume_trips_on(fitted: Path) -> None:
    run = fitted / cases.RUN
    checkpoints = run / "checkpoints"
    before = snapshot(checkpoints)
    kill = '{"class_path": "fault_injection.KillDuringSave", "init_args": {"save": 0}}'
    argv = ["fit", "--config", "default", f"--trainer.default_root_dir={fitted}/runs", *cases.SHORT,
            "--trainer.max_epochs=2", "--ckpt_path=last"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    killed = subprocess.run(
        [sys.executable, "-m", "structured_ssl.cli", *argv, f"--trainer.callbacks+={kill}"],
        env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600, cwd=fitted,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    orphans = list(checkpoints.glob(".*.part"))
    assert len(orphans) == 1 and orphans[0].stat().st_size == 4096, orphans
    assert {k: v for k, v in snapshot(checkpoints).items() if not k.startswith(".")} == before

    main(argv)  # resumes from the intact last.ckpt, not the partial file
    assert not list(checkpoints.glob(".*.part")), "the dead writer's partial file is removed"
    last = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert last["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 2
    for path in checkpoints.glob("*.ckpt"):
        StructuredSSL.load_from_checkpoint(path, weights_only=False)


def test_only_a_dead_writers_partial_file_is_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    names = {
        "dead": f".last.ckpt.{dead.stdout.strip()}@{host}.abc123.part",
        "alive": f".last.ckpt.{os.getppid()}@{host}.abc123.part",
        "other-host": f".last.ckpt.{dead.stdout.strip()}@elsewhere.abc123.part",
        "not ours": ".notes.part",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    assert remove_orphaned_parts(tmp_path) == [tmp_path / names["dead"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        v for k, v in names.items() if k != "dead"
    )
