"""What the SLURM launcher remembers between invocations, and what it asks the queue.

``OUT/slurm/submissions.json`` lists every job array a sweep submitted: its job name (unique
per submission), the run key of each array index, and the array's job id. A submission is
recorded BEFORE sbatch is called, so a submitter that dies at any moment leaves enough behind
for the next invocation to find its tasks in ``squeue`` by name. The queue, not accounting
(``sacct``, which needs slurmdbd), is the source of truth: a task is alive while ``squeue``
lists it (pending, running, requeued), and a run is finished when its result JSON exists.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from structured_ssl.experiments.results import write_json_atomic

SUBMISSIONS = "submissions.json"


@dataclass
class Submission:
    """One job array: ``keys[i]`` is the run of array index i (a single run is job id alone)."""

    name: str
    keys: list[str]
    job_ids: list[str] = field(default_factory=list)


def load_submissions(folder: Path) -> list[Submission]:
    path = Path(folder) / SUBMISSIONS
    if not path.exists():
        return []
    return [Submission(**item) for item in json.loads(path.read_text())["submissions"]]


def save_submissions(folder: Path, submissions: list[Submission]) -> None:
    write_json_atomic(Path(folder) / SUBMISSIONS, {"submissions": [asdict(s) for s in submissions]})


@dataclass(frozen=True)
class QueuedTask:
    job_id: str  # "123_4" for index 4 of array 123, "123" for a single job
    state: str  # PENDING, RUNNING, COMPLETING, REQUEUED, ...


def queued_tasks(
    names: list[str], timeout_s: float = 60.0
) -> dict[tuple[str, int], QueuedTask] | None:
    """Tasks of the named jobs still in the queue, by (job name, array index); None when
    ``squeue`` failed (the controller is briefly unreachable, say): ask again later."""
    if not names:
        return {}
    command = ["squeue", "--noheader", "--array", f"--name={','.join(names)}", "--format=%j|%i|%T"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    tasks = {}
    for line in done.stdout.splitlines():
        name, _, rest = line.strip().partition("|")
        job_id, _, state = rest.partition("|")
        if not job_id:
            continue
        _, sep, index = job_id.partition("_")
        if sep and not index.isdigit():
            continue  # a pending array shown unexpanded ("123_[0-4]"); --array expands it
        tasks[(name, int(index) if sep else 0)] = QueuedTask(job_id, state)
    return tasks


def live_runs(submissions: list[Submission], keys: set[str]) -> dict[str, QueuedTask] | None:
    """Which of ``keys`` have a task in the queue now (the newest submission of a key wins)."""
    relevant = [s for s in submissions if keys.intersection(s.keys)]
    tasks = queued_tasks([s.name for s in relevant])
    if tasks is None:
        return None
    live: dict[str, QueuedTask] = {}
    for submission in relevant:  # in submission order: later ones overwrite
        for index, key in enumerate(submission.keys):
            task = tasks.get((submission.name, index))
            if key in keys and task is not None:
                live[key] = task
    return live
