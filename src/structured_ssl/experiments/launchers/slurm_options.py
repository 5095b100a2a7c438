"""The SLURM launcher's settings: one dataclass, read from ``--launcher-config YAML`` and/or
``--slurm-*`` flags (a flag wins over the file), checked before anything is submitted.

A launcher config is a YAML mapping with these field names, e.g.::

    partition: gpu
    time_min: 1440
    nodes: 1
    tasks_per_node: 4        # = GPUs per node: one DDP process per GPU
    gpus_per_node: 4
    cpus_per_task: 8
    mem_gb: 64
    array_parallelism: 16
    sbatch: {account: my-lab, qos: high}
    setup: ["module load cuda/12.4"]
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SlurmOptions:
    """What every task of a sweep's job array asks SLURM for, and how the submitter waits."""

    partition: str | None = field(
        default=None, metadata={"help": "SLURM partition (default: the cluster's)"}
    )
    time_min: int = field(default=60, metadata={"help": "time limit of each task, minutes"})
    nodes: int = field(default=1, metadata={"help": "nodes per run (trainer.num_nodes)"})
    tasks_per_node: int = field(
        default=1, metadata={"help": "processes per node = trainer.devices (one per GPU under DDP)"}
    )
    gpus_per_node: int = field(default=0, metadata={"help": "GPUs per node"})
    cpus_per_task: int = field(
        default=1, metadata={"help": "CPUs per process (also OMP_NUM_THREADS)"}
    )
    mem_gb: float | None = field(default=None, metadata={"help": "memory per node, GB"})
    array_parallelism: int = field(default=256, metadata={"help": "array tasks running at once"})
    signal_delay_s: int = field(
        default=90,
        metadata={
            "help": "seconds before the time limit at which the task checkpoints and requeues"
        },
    )
    max_requeues: int = field(
        default=3,
        metadata={"help": "requeues after hitting the time limit (preemptions do not count)"},
    )
    sbatch: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": "extra sbatch option KEY=VALUE (repeatable), e.g. account=my-lab"},
    )
    setup: tuple[str, ...] = field(
        default=(),
        metadata={"help": "shell line run before srun (repeatable), e.g. 'module load cuda'"},
    )
    poll_s: float = field(
        default=10.0, metadata={"help": "seconds between the submitter's squeue polls"}
    )
    detach: bool = field(
        default=False,
        metadata={"help": "submit and return; rerun the same command to collect the results"},
    )

    def __post_init__(self) -> None:
        for name in ("time_min", "nodes", "tasks_per_node", "cpus_per_task", "array_parallelism"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"launcher option {name}={value!r}: expected an integer >= 1")
        for name in ("gpus_per_node", "signal_delay_s", "max_requeues"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"launcher option {name}={value!r}: expected an integer >= 0")
        if self.mem_gb is not None and not (
            isinstance(self.mem_gb, (int, float)) and self.mem_gb > 0
        ):
            raise ValueError(f"launcher option mem_gb={self.mem_gb!r}: expected a number > 0")
        if not (isinstance(self.poll_s, (int, float)) and self.poll_s > 0):
            raise ValueError(f"launcher option poll_s={self.poll_s!r}: expected a number > 0")
        if self.signal_delay_s >= self.time_min * 60:
            raise ValueError(
                f"launcher option signal_delay_s={self.signal_delay_s}: must be shorter than the time "
                f"limit (time_min={self.time_min} min)"
            )

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node


FIELDS = {f.name: f for f in dataclasses.fields(SlurmOptions)}


def flag(name: str) -> str:
    return "--slurm-" + name.replace("_", "-")


def add_slurm_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--slurm-<field>`` flag per
    [`SlurmOptions`][structured_ssl.experiments.launchers.slurm_options.SlurmOptions] field, plus
    ``--launcher-config``."""
    group = parser.add_argument_group("SLURM launcher (--launcher slurm)")
    group.add_argument(
        "--launcher-config",
        type=Path,
        default=None,
        metavar="YAML",
        help="SlurmOptions as YAML (flags win)",
    )
    for name, spec in FIELDS.items():
        text = spec.metadata["help"]
        if name == "detach":
            group.add_argument(
                flag(name), dest=f"slurm_{name}", action="store_true", default=None, help=text
            )
        elif name in ("sbatch", "setup"):
            group.add_argument(
                flag(name), dest=f"slurm_{name}", action="append", default=None, help=text
            )
        else:
            kind = {"partition": str, "mem_gb": float, "poll_s": float}.get(name, int)
            group.add_argument(flag(name), dest=f"slurm_{name}", type=kind, default=None, help=text)


def parse_sbatch(items: list[str]) -> dict[str, str]:
    options = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip("-"):
            raise ValueError(f"{flag('sbatch')} {item!r}: expected KEY=VALUE, e.g. account=my-lab")
        options[key.strip("-")] = value
    return options


def read_launcher_config(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ValueError(f"--launcher-config {path}: no such file")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(
            f"--launcher-config {path}: expected a mapping of options, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"--launcher-config {path}: unknown option {unknown[0]!r}; allowed: {', '.join(FIELDS)}"
        )
    if "sbatch" in data and not isinstance(data["sbatch"], dict):
        raise ValueError(
            f"--launcher-config {path}: sbatch={data['sbatch']!r}: expected a mapping KEY: VALUE"
        )
    if "setup" in data:
        setup = data["setup"]
        data["setup"] = tuple([setup] if isinstance(setup, str) else setup)
    if "sbatch" in data:
        data["sbatch"] = {str(k): str(v) for k, v in data["sbatch"].items()}
    return data


def slurm_options_from_args(args: argparse.Namespace) -> SlurmOptions:
    """The config file's values, then the flags given; exits with one line on a bad value."""
    try:
        values = read_launcher_config(args.launcher_config) if args.launcher_config else {}
        for name in FIELDS:
            given = getattr(args, f"slurm_{name}", None)
            if given is None:
                continue
            if name == "sbatch":
                values["sbatch"] = {**values.get("sbatch", {}), **parse_sbatch(given)}
            elif name == "setup":
                values["setup"] = (*values.get("setup", ()), *given)
            else:
                values[name] = given
        return SlurmOptions(**values)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: {error}") from None
