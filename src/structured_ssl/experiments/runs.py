"""One experiment run = ``fit`` then ``test`` of one config, in its own Python process.

The grid and the parameter studies both launch many runs. Each run gets a fresh interpreter
(``python -m structured_ssl.experiments.runs SPEC.json``) so that nothing leaks from one run to the next:
global seeds, escnn's caches, CUDA state, a crashed run's half-built trainer. Inside that
process the worker runs the LightningCLI
([`run_lightning_cli`][structured_ssl.experiments.lightning_cli.run_lightning_cli]) twice (fit, then
test on the final checkpoint) so the interpreter start-up is paid once per run, not twice.

Metrics are taken from the trainer itself by
[`MetricsRecorder`][structured_ssl.experiments.runs.MetricsRecorder], a callback appended to the
config's callbacks from the command line, rather than re-read from TensorBoard files: the values are
exactly what Lightning logged, and no logger is required. The worker then writes one result JSON per
run (atomically), which is what makes the grid resumable: a run whose JSON exists is finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L

from structured_ssl.callbacks.hparams_logging import scalar_metrics
from structured_ssl.callbacks.step_clock import StepClock
from structured_ssl.config.shipped_configs import resolve_config_args
from structured_ssl.experiments.results import read_result, result_path, write_json_atomic
from structured_ssl.groups import max_topographic_distance
from structured_ssl.lifted.contract import EquivariantEncoder

LOGS_DIR = "logs"
RUNS_DIR = "runs"


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to run one experiment.

    Args:
        key: relative id, also the result's path below ``OUT/results`` (``digits/structured_rotation/seed0``).
        configs: YAML files, composed in order (the cell's config, then overlays).
        overrides: extra CLI arguments (``--trainer.max_epochs=3``), after the configs.
        record: identity fields copied into the result (dataset, objective, group, seed, ...).
        ckpt: which checkpoint ``test`` evaluates: "final" (the model at the end of training,
            the paper's protocol) or "best" (best ``val/probe_acc``, when the config
            checkpoints on it).
    """

    key: str
    configs: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    record: dict[str, Any] = field(default_factory=dict)
    ckpt: str = "final"


@dataclass(frozen=True)
class RunPaths:
    """Where one run's files go below OUT (the parent and the worker agree on them)."""

    out: Path
    key: str

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[0] or self.key

    @property
    def version(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def fit_dir(self) -> Path:
        return Path(self.out) / RUNS_DIR / self.name / self.version

    @property
    def test_dir(self) -> Path:
        return Path(self.out) / RUNS_DIR / self.name / f"{self.version}-test"

    @property
    def final_checkpoint(self) -> Path:
        return self.fit_dir / "checkpoints" / "final.ckpt"

    @property
    def state(self) -> Path:
        return Path(self.out) / LOGS_DIR / f"{self.key}.metrics.json"

    @property
    def spec_file(self) -> Path:
        return Path(self.out) / LOGS_DIR / f"{self.key}.spec.json"

    @property
    def log_file(self) -> Path:
        return Path(self.out) / LOGS_DIR / f"{self.key}.log"

    @property
    def result(self) -> Path:
        return result_path(self.out, self.key)


# ----------------------------------------------------------------------------- the callback
class MetricsRecorder(StepClock):
    """Writes the trainer's scalar metrics to a JSON file at the end of fit and of test.

    ``on_fit_end`` also saves the final model to ``final_checkpoint`` (the one ``test``
    evaluates, whatever checkpoint callback the config has), records the paths of Lightning's
    ``last``/``best`` checkpoints, and a few facts about the model (group, encoder, fiber
    grid) and data, so tables and studies place a run by what it really trained.
    """

    def __init__(self, path: str, final_checkpoint: str | None = None) -> None:
        super().__init__()  # the clock: seconds per training step (``train_step_s``), for cost tables
        self.path = Path(path)
        self.final_checkpoint = Path(final_checkpoint) if final_checkpoint else None

    def _update(self, trainer: L.Trainer, entries: dict[str, Any]) -> None:
        if not trainer.is_global_zero:
            return
        state = json.loads(self.path.read_text()) if self.path.exists() else {}
        state.update(entries)
        write_json_atomic(self.path, state)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        final = (
            self.final_checkpoint
            or Path(trainer.log_dir or trainer.default_root_dir) / "final.ckpt"
        )
        checkpoints = {"final": str(save_final_checkpoint(trainer, pl_module, final))}
        callback = trainer.checkpoint_callback
        for key in ("last", "best"):  # a ModelCheckpoint's paths ("" until it saves)
            path = getattr(callback, f"{key}_model_path", "")
            if path:
                checkpoints[key] = path
        best_score = getattr(callback, "best_model_score", None) if callback is not None else None
        fit = scalar_metrics(trainer.callback_metrics)
        if best_score is not None:
            fit["best_checkpoint_score"] = float(best_score)
        if self.steps:
            fit["train_step_s"] = self.seconds / self.steps
        self._update(
            trainer,
            {
                "fit": fit,
                "checkpoints": checkpoints,
                "epochs_completed": trainer.current_epoch,
                "model": model_facts(pl_module),
                "data": data_facts(trainer),
            },
        )

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._update(trainer, {"test": scalar_metrics(trainer.callback_metrics)})


def save_final_checkpoint(trainer: L.Trainer, module: L.LightningModule, path: Path) -> Path:
    """Save the final model with every module in train mode (on every rank: it is collective).

    escnn caches expanded filters as buffers in eval mode, so a checkpoint written after
    validation (Lightning's ``last.ckpt``) holds ``*.filter`` keys that a freshly built,
    train-mode model rejects. A train-mode save is loadable by ``test`` whatever the encoder.
    """
    modes = {name: m.training for name, m in module.named_modules()}
    module.train()
    try:
        trainer.save_checkpoint(path)
    finally:
        # parents come before children, so each module ends in its own former mode
        for name, m in module.named_modules():
            m.train(modes.get(name, m.training))
    return path


def model_facts(module: L.LightningModule) -> dict[str, Any]:
    """What a table or plot may need to know about the trained model."""
    facts: dict[str, Any] = {"class": type(module).__name__}
    for name, attribute in (
        ("group", "group"),
        ("encoder_spec", "encoder_spec"),
        ("pairs", "pair_sampling"),
    ):
        value = getattr(module, attribute, None)
        if value is not None and dataclasses.is_dataclass(value) and not isinstance(value, type):
            facts[name] = dataclasses.asdict(value)
    grid = getattr(module, "grid", None)
    if grid is not None:
        facts["fiber_grid"] = list(grid.shape)
        facts["fiber_grid_cyclic"] = bool(grid.cyclic)
        facts["max_topographic_distance"] = max_topographic_distance(
            tuple(grid.shape), bool(grid.cyclic)
        )
    encoder = getattr(module, "encoder", None)
    if encoder is not None:
        facts["encoder_class"] = type(encoder).__name__
        facts["encoder_parameters"] = int(sum(p.numel() for p in encoder.parameters()))
        if isinstance(encoder, EquivariantEncoder):  # the encoder contract
            facts["fiber_channels"] = int(encoder.out_channels)
    return facts


def data_facts(trainer: L.Trainer) -> dict[str, Any]:
    """Which data the run really saw (an overlay may swap the dataset of a cell)."""
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is None:
        return {}
    facts: dict[str, Any] = {"class": type(datamodule).__name__}
    for name in ("image_size", "channels", "num_classes", "batch_size", "train_subset"):
        try:
            facts[name] = getattr(datamodule, name)
        except (AttributeError, NotImplementedError):
            continue
    return facts


# ----------------------------------------------------------------------------- file helpers
def cli_arguments(
    spec: RunSpec, out: Path, subcommand: str, launch_overrides: Sequence[str] = ()
) -> list[str]:
    """The ``structured-ssl`` arguments of one stage: configs, overrides, logger, recorder.

    ``launch_overrides`` (a launcher's process layout, e.g. devices under SLURM) come before
    the spec's own overrides, so a sweep's ``--set`` still wins.
    """
    paths = RunPaths(Path(out), spec.key)
    recorder = {
        "class_path": f"{__name__}.MetricsRecorder",
        "init_args": {"path": str(paths.state), "final_checkpoint": str(paths.final_checkpoint)},
    }
    run_dir = paths.fit_dir if subcommand == "fit" else paths.test_dir
    args = [subcommand]
    for config in spec.configs:
        args += ["--config", str(config)]
    args += [*launch_overrides, *spec.overrides]
    args += [
        f"--trainer.logger.init_args.save_dir={run_dir.parent.parent}",
        f"--trainer.logger.init_args.name={run_dir.parent.name}",
        f"--trainer.logger.init_args.version={run_dir.name}",
        f"--trainer.callbacks+={json.dumps(recorder)}",
        "--trainer.enable_progress_bar=false",
    ]
    return args


def clear_run(paths: RunPaths) -> None:
    """Remove what an earlier, unfinished attempt of this run left (logs, checkpoints, state).

    Done by the parent, never by the worker: under DDP every rank re-executes the worker.
    """
    for folder in (paths.fit_dir, paths.test_dir):
        if folder.is_dir():
            shutil.rmtree(folder)
    paths.state.unlink(missing_ok=True)


def execute(
    spec: RunSpec,
    out: Path,
    python: str | None = None,
    echo: bool = False,
    threads: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Run one spec in a fresh interpreter; return its result, or None when it failed.

    The run's stdout and stderr go to ``OUT/logs/<key>.log`` (printed too with ``echo``).
    ``threads`` caps the run's CPU threads (OMP_NUM_THREADS) when several runs share a machine,
    unless the caller's environment already sets it. ``extra_env`` adds variables (a launcher's
    ``CUDA_VISIBLE_DEVICES``), overriding the caller's.
    """
    paths = RunPaths(Path(out), spec.key)
    clear_run(paths)
    write_json_atomic(paths.spec_file, {"out": str(out), **asdict(spec)})
    command = [python or sys.executable, "-m", __name__, str(paths.spec_file)]
    env = dict(os.environ)
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
    env.update(extra_env or {})
    start = time.perf_counter()
    with paths.log_file.open("w") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        if echo:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                sys.stdout.write(line)
            code = process.wait()
        else:
            code = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, check=False, env=env
            ).returncode
    elapsed = time.perf_counter() - start
    if code != 0 or not paths.result.exists():
        return None
    result = read_result(paths.result)
    result.setdefault("wall_time_s", {})["process"] = elapsed
    write_json_atomic(paths.result, result)
    return result


def tail(path: Path, lines: int = 15) -> str:
    """The end of a run's log, for the failure message."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ----------------------------------------------------------------------------- the worker
def run_worker(
    spec: RunSpec, out: Path, resume: bool = False, launch_overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Fit then test in THIS process; return (and, on rank zero, write) the result.

    Under DDP every rank runs this function; the final checkpoint's path is fixed in
    advance ([`RunPaths`][structured_ssl.experiments.runs.RunPaths]), so every rank tests the same
    file without waiting for rank zero's metrics. ``ckpt="best"`` reads the path rank zero recorded:
    single process only.

    ``resume`` (a requeued cluster task): fit continues from the run's ``last.ckpt``
    (``--ckpt_path last``; nothing there: from scratch), and a fit that already finished
    (final checkpoint and its metrics recorded) is not redone.
    """
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from structured_ssl.experiments.lightning_cli import run_lightning_cli

    paths = RunPaths(Path(out), spec.key)
    recorded = json.loads(paths.state.read_text()) if resume and paths.state.exists() else {}
    if resume and "fit" in recorded and "fit_s" in recorded and paths.final_checkpoint.exists():
        fit_time = float(recorded["fit_s"])
    else:
        start = time.perf_counter()
        fit_args = cli_arguments(spec, out, "fit", launch_overrides)
        run_lightning_cli(
            resolve_config_args([*fit_args, "--ckpt_path=last"] if resume else fit_args)
        )
        fit_time = time.perf_counter() - start
        if getattr(rank_zero_only, "rank", 0) == 0 and paths.state.exists():
            write_json_atomic(
                paths.state, {**json.loads(paths.state.read_text()), "fit_s": fit_time}
            )
    checkpoint = str(paths.final_checkpoint)
    if spec.ckpt != "final" and paths.state.exists():
        recorded = json.loads(paths.state.read_text()).get("checkpoints") or {}
        checkpoint = recorded.get(spec.ckpt) or checkpoint
    start = time.perf_counter()
    test_args = cli_arguments(spec, out, "test", launch_overrides)
    run_lightning_cli(resolve_config_args([*test_args, f"--ckpt_path={checkpoint}"]))
    test_time = time.perf_counter() - start
    recorded = json.loads(paths.state.read_text()) if paths.state.exists() else {}
    result = {
        **spec.record,
        "key": spec.key,
        "configs": list(spec.configs),
        "overrides": list(spec.overrides),
        "tested_checkpoint": checkpoint,
        "fit": recorded.get("fit", {}),
        "test": recorded.get("test", {}),
        "model": recorded.get("model", {}),
        "data": recorded.get("data", {}),
        "epochs_completed": recorded.get("epochs_completed"),
        "wall_time_s": {"fit": fit_time, "test": test_time},
    }
    if getattr(rank_zero_only, "rank", 0) == 0:
        write_json_atomic(paths.result, result)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """Worker entry point: ``python -m structured_ssl.experiments.runs SPEC.json``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        raise SystemExit("usage: python -m structured_ssl.experiments.runs SPEC.json")
    data = json.loads(Path(argv[0]).read_text())
    out = Path(data.pop("out"))
    data["configs"] = tuple(data["configs"])
    data["overrides"] = tuple(data["overrides"])
    run_worker(RunSpec(**data), out)


if __name__ == "__main__":
    main()
