"""The launchers without a cluster: the sbatch script a sweep would submit, launcher options
from flags and a config file, bad options refused in one line, reading the queue, and which
runs a resubmission keeps. The real cluster runs are in tests/experiments/test_slurm.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from structured_ssl.experiments.grid import main as grid_main
from structured_ssl.experiments.launchers import slurm_queue
from structured_ssl.experiments.launchers.slurm import prepare_run
from structured_ssl.experiments.launchers.slurm_queue import Submission, live_runs, queued_tasks
from structured_ssl.experiments.results import write_json_atomic
from structured_ssl.experiments.runs import RunPaths, RunSpec
from structured_ssl.experiments.study import main as study_main

REPO = Path(__file__).resolve().parents[2]
SWEEP = [
    "--dataset", "digits", "--objectives", "structured", "augmentation", "frozen",
    "--groups", "translation", "--seeds", "0", "--epochs", "1", "--configs", str(REPO / "configs"),
    "--launcher", "slurm", "--dry-run",
]  # fmt: skip


def test_dry_run_prints_one_array_with_the_options_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "launcher.yaml"
    config.write_text(
        "partition: gpu\ntime_min: 600\nmem_gb: 16\nsbatch: {account: lab}\nsetup: [module load cuda]\n"
    )
    grid_main([
        *SWEEP, "--out", str(tmp_path / "out"), "--launcher-config", str(config),
        "--slurm-time-min", "120", "--slurm-tasks-per-node", "2", "--slurm-gpus-per-node", "2",
        "--slurm-cpus-per-task", "4", "--slurm-array-parallelism", "2", "--slurm-sbatch", "qos=high",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    for line in (
        "#SBATCH --array=0-2%2",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=120",  # the flag wins over the file's 600
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=2",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16384MB",
        "#SBATCH --account=lab",
        "#SBATCH --qos=high",
        "#SBATCH --signal=USR2@90",
        "#SBATCH --requeue",
        "module load cuda",
        "export OMP_NUM_THREADS=4",
    ):
        assert line in printed.splitlines(), line
    assert "srun --unbuffered" in printed and "-m submitit.core._submit" in printed
    tasks = [line for line in printed.splitlines() if "array task" in line]
    assert len(tasks) == 3
    for task in tasks:
        assert (
            "--trainer.devices=2" in task
            and "--trainer.num_nodes=1" in task
            and "--ckpt_path last" in task
        )
        assert '"auto_requeue": false' in task, (
            "Lightning must not requeue too: submitit owns the signal"
        )
    assert not (tmp_path / "out").exists(), "a dry run writes nothing"


def test_a_study_is_one_array_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study_main(["max_distance", "--values", "0", "1", "--group", "rotation", "--configs", str(REPO / "configs"),
                "--launcher", "slurm", "--dry-run", "--out", str(tmp_path)])  # fmt: skip
    printed = capsys.readouterr().out
    assert "#SBATCH --array=0-3%4" in printed.splitlines()
    assert (
        sum("array task" in line and "max_distance=1" in line for line in printed.splitlines()) == 2
    )


@pytest.mark.parametrize(
    ("extra", "config", "message"),
    [
        (["--slurm-nodes", "0"], None, "launcher option nodes=0: expected an integer >= 1"),
        (["--slurm-mem-gb", "-2"], None, "launcher option mem_gb=-2.0: expected a number > 0"),
        (["--slurm-sbatch", "account"], None, "--slurm-sbatch 'account': expected KEY=VALUE"),
        (["--slurm-time-min", "1"], None, "signal_delay_s=90: must be shorter than the time limit"),
        ([], "partitio: gpu\n", "unknown option 'partitio'; allowed: partition, time_min"),
        ([], "nodes: two\n", "launcher option nodes='two': expected an integer >= 1"),
    ],
)
def test_bad_launcher_options_are_refused_in_one_line_before_anything_runs(
    tmp_path: Path, extra: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "launcher.yaml").write_text(config)
        extra = [*extra, "--launcher-config", str(tmp_path / "launcher.yaml")]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as error:
        grid_main([*SWEEP, "--out", str(out), *extra])
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not out.exists()


def squeue_answers(
    monkeypatch: pytest.MonkeyPatch, stdout: str, returncode: int = 0
) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout, "boom")

    monkeypatch.setattr(slurm_queue.subprocess, "run", fake_run)
    return calls


def test_queue_tasks_are_read_by_name_and_array_index(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = squeue_answers(
        monkeypatch,
        "sweep-a|41_0|RUNNING\nsweep-a|41_1|REQUEUED\nsweep-a|41_2|PENDING\nsweep-b|57|RUNNING\n"
        "sweep-a|41_[3-4]|PENDING\n",
    )
    tasks = queued_tasks(["sweep-a", "sweep-b"])
    assert "--name=sweep-a,sweep-b" in calls[0] and "--array" in calls[0]
    assert tasks is not None and sorted(tasks) == [
        ("sweep-a", 0),
        ("sweep-a", 1),
        ("sweep-a", 2),
        ("sweep-b", 0),
    ]
    assert tasks[("sweep-a", 2)].job_id == "41_2" and tasks[("sweep-a", 2)].state == "PENDING"
    # the newest submission of a key wins; keys not asked for are left out
    submissions = [Submission("sweep-a", ["k0", "k1", "k2"]), Submission("sweep-b", ["k1"])]
    live = live_runs(submissions, {"k0", "k1"})
    assert live is not None and {k: t.job_id for k, t in live.items()} == {"k0": "41_0", "k1": "57"}


def test_a_failing_squeue_means_unknown_not_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    squeue_answers(monkeypatch, "", returncode=1)
    assert queued_tasks(["sweep-a"]) is None
    assert live_runs([Submission("sweep-a", ["k0"])], {"k0"}) is None


def test_resubmission_keeps_the_same_runs_checkpoints_and_clears_changed_ones(
    tmp_path: Path,
) -> None:
    spec = RunSpec(
        key="digits/structured_translation/seed0", configs=("a.yaml",), overrides=("--x=1",)
    )
    paths = RunPaths(tmp_path, spec.key)
    prepare_run(spec, tmp_path)  # first submission: writes the spec
    (paths.fit_dir / "checkpoints").mkdir(parents=True)
    (paths.fit_dir / "checkpoints" / "last.ckpt").write_text("step 7")
    prepare_run(spec, tmp_path)  # same spec again: the task resumes from last.ckpt
    assert (paths.fit_dir / "checkpoints" / "last.ckpt").read_text() == "step 7"
    changed = RunSpec(key=spec.key, configs=spec.configs, overrides=("--x=2",))
    prepare_run(changed, tmp_path)
    assert not paths.fit_dir.exists(), "a checkpoint of other settings must not be resumed"
    assert json.loads(paths.spec_file.read_text())["overrides"] == ["--x=2"]
    write_json_atomic(paths.spec_file, {"broken": True})
    (paths.fit_dir / "checkpoints").mkdir(parents=True)
    prepare_run(changed, tmp_path)
    assert not paths.fit_dir.exists()


def test_cluster_tests_fail_in_ci_and_skip_elsewhere_without_sbatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import test_slurm

    monkeypatch.setattr(test_slurm.shutil, "which", lambda name: None)  # no sbatch here
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but no sbatch on this machine"):
        test_slurm.require_cluster()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no sbatch on this machine"):
        test_slurm.require_cluster()


def test_submitting_without_slurm_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no squeue
    with pytest.raises(SystemExit, match="sbatch/squeue not found on PATH") as error:
        grid_main([*SWEEP[:-1], "--out", str(tmp_path / "out")])
    assert "\n" not in str(error.value)
