"""The SLURM launcher: one job array per sweep, submitted and resumed through submitit.

Each array task runs one spec's ``fit`` then ``test``
([`structured_ssl.experiments.runs.run_worker`][structured_ssl.experiments.runs.run_worker]) under
``srun`` with ``tasks_per_node`` processes per node, so a multi-GPU run is DDP inside its
task: Lightning's `SLURMEnvironment` reads the ranks from SLURM.

Preemption and time limits. ONE owner of the requeue signal: submitit. Its sbatch script asks
for ``--signal=USR2@signal_delay_s``; on USR2 submitit requeues the task (a time-limit requeue
counts against ``max_requeues``, a preemption does not). Lightning's own SLURM auto-requeue
(USR1) is switched off (``SLURMEnvironment(auto_requeue=False)``), so the two never both
requeue. A requeued task, or one killed by ``scontrol requeue`` or preemption (SIGTERM: the
[`PreemptionCheckpoint`][structured_ssl.callbacks.resilience.PreemptionCheckpoint] saves
``last.ckpt`` at the next step),
reruns the same task: ``fit --ckpt_path last`` in the SAME run directory, which
[`ExactResume`][structured_ssl.callbacks.resilience.ExactResume] makes continue exactly as if
uninterrupted.

The submitter may die: the next invocation of the same command attaches to the runs still
queued
([`structured_ssl.experiments.launchers.slurm_queue`][structured_ssl.experiments.launchers.slurm_queue]),
resubmits only those with neither a result nor a queued task, and waits for all of them.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import submitit

from structured_ssl.experiments.launchers.base import report_outcome
from structured_ssl.experiments.launchers.slurm_options import SlurmOptions
from structured_ssl.experiments.launchers.slurm_queue import (
    QueuedTask,
    Submission,
    live_runs,
    load_submissions,
    save_submissions,
)
from structured_ssl.experiments.results import write_json_atomic
from structured_ssl.experiments.runs import RunPaths, RunSpec, clear_run, run_worker

SLURM_DIR = "slurm"
SLURM_ENVIRONMENT = "lightning.pytorch.plugins.environments.SLURMEnvironment"


def launch_overrides(options: SlurmOptions) -> tuple[str, ...]:
    """Trainer settings every task gets: its process layout, and no Lightning auto-requeue."""
    plugin = {"class_path": SLURM_ENVIRONMENT, "init_args": {"auto_requeue": False}}
    return (
        f"--trainer.num_nodes={options.nodes}",
        f"--trainer.devices={options.tasks_per_node}",
        f"--trainer.plugins+={json.dumps(plugin)}",
    )


def sbatch_parameters(options: SlurmOptions, name: str) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters (its own names) for these options."""
    params: dict[str, Any] = {
        "job_name": name,
        "time": options.time_min,
        "nodes": options.nodes,
        "ntasks_per_node": options.tasks_per_node,
        "cpus_per_task": options.cpus_per_task,
        "array_parallelism": options.array_parallelism,
        "signal_delay_s": options.signal_delay_s,
        "setup": [f"export OMP_NUM_THREADS={options.cpus_per_task}", *options.setup],
        "additional_parameters": {"requeue": True, **options.sbatch},
    }
    if options.partition:
        params["partition"] = options.partition
    if options.gpus_per_node:
        params["gpus_per_node"] = options.gpus_per_node
    if options.mem_gb:
        params["mem"] = f"{max(1, round(options.mem_gb * 1024))}MB"
    return params


class SlurmTask(submitit.helpers.Checkpointable):
    """One array task: fit (resuming from ``last.ckpt`` when there is one) then test.

    Checkpointable, so submitit requeues it on USR2 rather than letting it die at the time
    limit; the checkpoint is Lightning's ``last.ckpt`` on disk, so the requeued call is the
    very same call (submitit's default ``checkpoint`` resubmits it unchanged).
    """

    def __init__(self, out: str, overrides: tuple[str, ...]) -> None:
        self.out = out
        self.overrides = overrides

    def __call__(self, spec: RunSpec) -> str:
        start = time.time()
        result = run_worker(spec, Path(self.out), resume=True, launch_overrides=self.overrides)
        if int(os.environ.get("SLURM_PROCID", "0")) == 0:
            result.setdefault("wall_time_s", {})["process"] = time.time() - start
            result["slurm"] = {
                "job_id": os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID")),
                "array_task": os.environ.get("SLURM_ARRAY_TASK_ID"),
                "restarts": int(os.environ.get("SLURM_RESTART_COUNT", "0")),
                "tasks": int(os.environ.get("SLURM_NTASKS", "1")),
            }
            write_json_atomic(RunPaths(Path(self.out), spec.key).result, result)
        return spec.key


class SlurmLauncher:
    """Submits a sweep's missing runs as one job array and waits for them (unless detached)."""

    def __init__(self, options: SlurmOptions) -> None:
        self.options = options

    def folder(self, out: Path) -> Path:
        return Path(out) / SLURM_DIR

    # ------------------------------------------------------------------ planning
    def plan(
        self, specs: Sequence[RunSpec], out: Path
    ) -> tuple[dict[str, QueuedTask], list[RunSpec]]:
        """(runs still queued from an earlier invocation, runs to submit now)."""
        submissions = load_submissions(self.folder(out))
        live = live_runs(submissions, {s.key for s in specs}) if submissions else {}
        if live is None:
            raise SystemExit(
                "error: squeue failed; is the SLURM controller reachable? Nothing was submitted"
            )
        return live, [s for s in specs if s.key not in live]

    def sbatch_script(self, out: Path, name: str, count: int) -> str:
        """The sbatch script submitit writes for an array of ``count`` tasks."""
        from submitit.slurm.slurm import _make_sbatch_string  # what SlurmExecutor itself calls

        folder = self.folder(out).resolve() / "%j"
        command = (
            f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {shlex.quote(str(folder))}"
        )
        params = sbatch_parameters(self.options, name)
        return _make_sbatch_string(
            command=command, folder=folder, map_count=count if count > 1 else None, **params
        )

    def dry_run(self, specs: Sequence[RunSpec], out: Path) -> None:
        import shutil

        live, todo = self.plan(specs, out) if shutil.which("squeue") else ({}, list(specs))
        for key, task in live.items():
            print(f"  attach {key} (job {task.job_id}, {task.state})")
        overrides = " ".join(launch_overrides(self.options))
        for index, spec in enumerate(todo):
            configs = " ".join(f"--config {c}" for c in spec.configs)
            print(
                f"  array task {index}: structured-ssl fit {configs} {' '.join(spec.overrides)} {overrides} "
                f"--ckpt_path last   # -> {spec.key}"
            )
        if todo:
            print(f"# sbatch script for {len(todo)} run(s):")
            print(self.sbatch_script(out, "structured-ssl-<id>", len(todo)))

    # ------------------------------------------------------------------ running
    def launch(self, specs: Sequence[RunSpec], out: Path) -> dict[str, dict[str, Any] | None]:
        import shutil

        if shutil.which("sbatch") is None or shutil.which("squeue") is None:
            raise SystemExit(
                "error: --launcher slurm: sbatch/squeue not found on PATH (run on a SLURM login node)"
            )
        out = Path(out).resolve()  # every task must find it, whatever its working directory
        live, todo = self.plan(specs, out)
        for key, task in live.items():
            print(f"  attach {key}: job {task.job_id} is {task.state}", flush=True)
        if todo:
            self.submit(todo, out)
        if self.options.detach:
            print(
                f"  detached: {len(specs)} run(s) queued; rerun the same command to collect them",
                flush=True,
            )
            return {}
        try:
            return self.wait(list(specs), out)
        except KeyboardInterrupt:
            print(
                "\n  interrupted: the jobs keep running; rerun the same command to attach",
                flush=True,
            )
            raise

    def submit(self, specs: Sequence[RunSpec], out: Path) -> list[str]:
        """Submit one array for ``specs``; recorded before sbatch so a crash loses nothing."""
        for spec in specs:
            prepare_run(spec, out)
        folder = self.folder(out)
        name = f"structured-ssl-{uuid.uuid4().hex[:10]}"
        submissions = load_submissions(folder)
        submissions.append(Submission(name=name, keys=[s.key for s in specs]))
        save_submissions(folder, submissions)
        executor = submitit.SlurmExecutor(
            folder=folder / "%j", max_num_timeout=self.options.max_requeues
        )
        executor.update_parameters(**sbatch_parameters(self.options, name))
        task = SlurmTask(str(out), launch_overrides(self.options))
        jobs = executor.map_array(task, list(specs))
        submissions[-1].job_ids = [job.job_id for job in jobs]
        save_submissions(folder, submissions)
        first = jobs[0].job_id.partition("_")[0]
        print(
            f"  submitted {len(specs)} run(s) as job {first} ({name}); logs in {folder}", flush=True
        )
        return submissions[-1].job_ids

    def wait(self, specs: list[RunSpec], out: Path) -> dict[str, dict[str, Any] | None]:
        """Poll the queue until no run has a task left; a run is done when its result exists."""
        folder = self.folder(out)
        waiting = {s.key: s for s in specs}
        results: dict[str, dict[str, Any] | None] = {}
        last_seen: dict[str, QueuedTask] = {}
        failures = 0
        while waiting:
            live = live_runs(load_submissions(folder), set(waiting))
            if live is None:
                failures += 1
                if failures > 30:
                    raise SystemExit(
                        "error: squeue keeps failing; the jobs keep running: rerun the same command to attach"
                    )
                time.sleep(self.options.poll_s)
                continue
            failures = 0
            last_seen.update(live)
            for key in [k for k in waiting if k not in live]:
                spec = waiting.pop(key)
                path = RunPaths(out, key).result
                result = json.loads(path.read_text()) if path.exists() else None
                results[key] = result
                job = last_seen.get(key)
                log = (
                    submitit.core.utils.JobPaths(folder / "%j", job.job_id, 0).stderr
                    if job
                    else None
                )
                report_outcome(f"[{len(results)}/{len(specs)}]", spec, result, log)
            if waiting:
                time.sleep(self.options.poll_s)
        return results


def prepare_run(spec: RunSpec, out: Path) -> None:
    """Keep what an earlier attempt of the SAME spec left (the task resumes from it); start
    afresh when the spec on disk differs or is missing (checkpoints of other settings)."""
    paths = RunPaths(out, spec.key)
    wanted = {"out": str(out), **asdict(spec)}
    wanted = json.loads(json.dumps(wanted))
    try:
        same = json.loads(paths.spec_file.read_text()) == wanted
    except (OSError, ValueError):
        same = False
    if not same:
        clear_run(paths)
        write_json_atomic(paths.spec_file, wanted)
