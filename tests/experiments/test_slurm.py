"""Sweeps on a real SLURM: the slurm launcher (submitit job arrays), requeue, DDP under srun.

Needs a running SLURM: `.ci/run` starts a one-node cluster (`.ci/slurm-up.sh`) before the
suite and stops it after. Without `sbatch` these tests skip, saying so; in CI (CI=true) they
FAIL instead, since CI is meant to start the cluster. All runs are tiny: one epoch of 8 steps
of 32 embedded digits, one validation batch.

* the same 3-cell sweep through the slurm launcher and the local one gives the same table;
  re-running it with a result deleted plans only that run;
* a task paused at step 6, requeued by submitit on USR2 and then with `scontrol requeue`
  while the submitter is gone, resumes from its `last.ckpt` each time and ends with the
  uninterrupted run's weights and metrics; the re-run command attaches instead of submitting;
* a 2-task `srun` DDP step (gloo) equals the 1-process step on the doubled batch, and a sweep
  task with 2 tasks per node trains as one 2-process DDP run;
* `scripts/slurm_fit.sh`, submitted as it is (CPU through flags and environment), completes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from structured_ssl.experiments.grid import main as grid_main
from structured_ssl.experiments.launchers.slurm_queue import load_submissions

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parents[1]
SWEEP = [
    "--dataset", "digits",
    "--groups", "translation",
    "--seeds", "0",
    "--epochs", "1",
    "--configs", str(REPO / "configs"),
    "--set", "trainer.limit_train_batches=8",
    "--set", "trainer.limit_val_batches=1",
    "--set", "data.init_args.batch_size=32",
]  # fmt: skip
CELLS = ["--objectives", "structured", "augmentation", "frozen"]
SLURM = ["--launcher", "slurm", "--slurm-poll-s", "1", "--slurm-time-min", "10"]


def cluster_problem() -> str | None:
    """Why the tests cannot reach a SLURM cluster, or None when they can."""
    if shutil.which("sbatch") is None:
        return "no sbatch on this machine (start a one-node SLURM as root: .ci/slurm-up.sh)"
    done = subprocess.run(
        ["sinfo", "--noheader", "-o", "%t"], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 or not done.stdout.strip():
        return (
            f"sbatch is here but the SLURM controller does not answer: {done.stderr.strip()[:200]}"
        )
    return None


def require_cluster() -> None:
    """Skip without a cluster, saying why; in CI (CI=true) fail instead: CI starts one."""
    problem = cluster_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}; .ci/run must start SLURM before the tests")
        pytest.skip(problem)


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    require_cluster()
    # one CPU thread per run, locally and in the tasks, so both compute in the same order;
    # the tasks import the test-only callbacks (sbatch exports this environment)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        patch.setenv(
            "PYTHONPATH",
            os.pathsep.join([str(REPO / "src"), str(TESTS), os.environ.get("PYTHONPATH", "")]),
        )
        patch.chdir(REPO)
        yield


@pytest.fixture(scope="module")
def local_sweep(cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local")
    grid_main([*SWEEP, *CELLS, "--jobs", "2", "--out", str(out)])
    return out


def result(out: Path, objective: str) -> dict:
    return json.loads(
        (out / "results" / "digits" / f"{objective}_translation" / "seed0.json").read_text()
    )


def final_weights(out: Path, objective: str) -> dict[str, torch.Tensor]:
    path = (
        out
        / "runs"
        / "digits"
        / f"{objective}_translation"
        / "seed0"
        / "checkpoints"
        / "final.ckpt"
    )
    return torch.load(path, weights_only=False)["state_dict"]


def assert_same_run(a: dict, b: dict) -> None:
    """Same test metrics and end-of-fit validation metrics, exactly."""
    assert a["test"] and a["test"] == b["test"]
    val_a = {k: v for k, v in a["fit"].items() if k.startswith("val/")}
    # Frozen trains nothing, so its fit has no validation loop to compare
    assert val_a or a["objective"] == "frozen", a["fit"]
    assert val_a == {k: v for k, v in b["fit"].items() if k.startswith("val/")}


def test_slurm_sweep_gives_the_local_table_and_reruns_only_what_is_missing(
    local_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "slurm"
    grid_main([*SWEEP, *CELLS, *SLURM, "--slurm-array-parallelism", "2", "--out", str(out)])
    assert (out / "table.csv").read_text() == (local_sweep / "table.csv").read_text()
    rows = (out / "table.csv").read_text().splitlines()[1:]
    assert len(rows) == 3 and all(re.fullmatch(r"\w+,\d+\.\d \(n=1\)", r) for r in rows), (
        "one seed: each cell is its value and n=1, never a fake spread"
    )
    results = [result(out, o) for o in ("structured", "augmentation", "frozen")]
    assert {r["slurm"]["job_id"] for r in results} == {
        load_submissions(out / "slurm")[0].job_ids[0].split("_")[0]
    }
    assert sorted(r["slurm"]["array_task"] for r in results) == ["0", "1", "2"], (
        "one job array for the sweep"
    )
    for r in results:
        assert_same_run(r, result(local_sweep, r["objective"]))

    (out / "results" / "digits" / "augmentation_translation" / "seed0.json").unlink()
    capsys.readouterr()
    grid_main([*SWEEP, *CELLS, *SLURM, "--out", str(out), "--dry-run"])
    printed = capsys.readouterr().out
    planned = [line for line in printed.splitlines() if "array task" in line]
    assert len(planned) == 1 and planned[0].endswith("-> digits/augmentation_translation/seed0")
    assert printed.count("(result exists)") == 2 and "#SBATCH --array" not in printed


def wait_for(path: Path, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"the task never got to {path.name}"
        time.sleep(0.5)


def test_requeued_task_resumes_and_equals_the_uninterrupted_run(
    local_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "paused"
    pause = {
        "class_path": "fault_injection.PauseAtStep",
        "init_args": {"step": 6, "marker": str(marker), "runs": 2},
    }
    command = [
        *SWEEP,
        "--objectives",
        "structured",
        "--set",
        f"trainer.callbacks+={json.dumps(pause)}",
        *SLURM,
    ]
    command += ["--out", str(tmp_path / "requeue")]
    out = tmp_path / "requeue"
    grid_main([*command, "--slurm-detach"])  # the submitter returns at once, as if it had died
    wait_for(Path(f"{marker}.0"))
    (job_id,) = load_submissions(out / "slurm")[0].job_ids
    # 1. the signal before a time limit (or a preemption notice): submitit, the one requeue owner,
    #    requeues the task and exits; the rerun resumes from the periodic last.ckpt of step 5
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True, timeout=60)
    wait_for(Path(f"{marker}.1"))
    # 2. requeued from outside (preemption, an admin): SIGTERM saves last.ckpt at step 7
    subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=60)
    capsys.readouterr()
    grid_main(command)  # the same command again: attaches, waits, collects
    printed = capsys.readouterr().out
    assert (
        f"attach digits/structured_translation/seed0: job {job_id}" in printed
        and "submitted" not in printed
    )

    resumed = result(out, "structured")
    assert resumed["slurm"]["restarts"] == 2
    log = (out / "slurm" / job_id / f"{job_id}_0_log.err").read_text()
    submitit_log = (out / "slurm" / job_id / f"{job_id}_0_log.out").read_text()
    assert "Caught signal SIGUSR2" in log and f"Requeued job {job_id}" in submitit_log
    assert "SIGTERM received: saved" in log and "at global step 7" in log
    assert log.count("Restored all states") == 2
    assert_same_run(resumed, result(local_sweep, "structured"))
    straight, interrupted = (
        final_weights(local_sweep, "structured"),
        final_weights(out, "structured"),
    )
    assert straight.keys() == interrupted.keys()
    for key, value in straight.items():
        assert torch.equal(value, interrupted[key]), f"{key} differs after the requeues"


def test_two_srun_tasks_ddp_equal_one_process_with_the_double_batch(tmp_path: Path) -> None:
    script = TESTS / "ddp_equivalence.py"
    single, double = tmp_path / "single.pt", tmp_path / "double.pt"
    # the 1-process reference runs here meanwhile (SLURM holds both CPUs for the 2 tasks)
    reference = subprocess.Popen(
        [sys.executable, str(script), str(single), "structured", "ntxent", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Lightning under SLURM wants --ntasks-per-node (not --ntasks) = devices
    srun = [
        "srun",
        "--nodes=1",
        "--ntasks-per-node=2",
        "--cpus-per-task=1",
        "--kill-on-bad-exit=1",
        "--time=10",
    ]
    done = subprocess.run([*srun, sys.executable, str(script), str(double), "structured", "ntxent", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)  # fmt: skip
    _, reference_errors = reference.communicate(timeout=600)
    assert reference.returncode == 0, reference_errors[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = torch.load(single), torch.load(double)
    assert two["world_size"] == 2 and two["environment"] == "SLURMEnvironment"
    torch.testing.assert_close(two["loss"], one["loss"], rtol=1e-4, atol=1e-5)
    assert one["grads"].keys() == two["grads"].keys()
    for name, grad in one["grads"].items():
        error = float((two["grads"][name] - grad).abs().max())
        assert error <= 1e-4 * float(grad.abs().max()) + 1e-6, (
            f"{name}: max abs difference {error:.3g}"
        )


def test_sweep_task_with_two_tasks_per_node_trains_as_ddp(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    grid_main(
        [
            *SWEEP,
            "--objectives",
            "structured",
            *SLURM,
            "--slurm-tasks-per-node",
            "2",
            "--out",
            str(out),
        ]
    )
    done = result(out, "structured")
    assert done["slurm"]["tasks"] == 2 and done["data"]["batch_size"] == 32
    (job_id,) = load_submissions(out / "slurm")[0].job_ids
    log = (out / "slurm" / job_id / f"{job_id}_0_log.err").read_text()
    assert (
        "distributed_backend=gloo" in log
        and "All distributed processes registered. Starting with 2 processes" in log
    )
    assert 0.0 <= done["test"]["test/linear_acc"] <= 1.0


def test_slurm_fit_script_submitted_as_is_completes(tmp_path: Path) -> None:
    overrides = [
        "--nodes=1",
        "--ntasks-per-node=1",
        "--gpus-per-node=0",
        "--cpus-per-task=1",
        "--time=10",
    ]
    env = {**os.environ, "ACCELERATOR": "cpu", "PYTHON": sys.executable}
    done = subprocess.run(
        ["sbatch", "--wait", *overrides, f"--output={tmp_path}/slurm-%j.out",
         str(REPO / "scripts" / "slurm_fit.sh"), str(REPO / "configs" / "default.yaml"),
         "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
         f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    logs = "".join(p.read_text() for p in tmp_path.glob("slurm-*.out"))
    assert done.returncode == 0, (done.stdout + done.stderr + logs)[-3000:]
    assert "final val/probe_acc" in logs
    assert list(tmp_path.rglob("last.ckpt")), "the run wrote no checkpoint"
