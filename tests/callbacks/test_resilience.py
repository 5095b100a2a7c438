"""Long runs survive interruption, and nothing is lost.

* A run SIGKILLed mid-epoch and resumed with ``--ckpt_path last`` ends with the same weights,
  optimizer state, data order, random draws and logged losses as an uninterrupted run.
* SIGTERM saves ``last.ckpt`` at the next step boundary and stops with status 143.
* A NaN loss stops the run naming the step and the loss term; ``last.ckpt`` stays the last
  good one and loads.
* Checkpoints are written atomically and load strictly into a freshly built model.

Dataset downloads are atomic too: see tests/data/test_datasets.py
(``test_interrupted_download_leaves_no_file_and_no_part``).

The end-to-end cases run ``structured-ssl fit`` in subprocesses (5 runs of 2 x 4 steps on the
embedded digits, about 15 s each); ``fault_injection.py`` holds their test-only callbacks.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from structured_ssl.callbacks.resilience import AtomicCheckpointIO, ExactResume
from structured_ssl.data.digits import DigitsDataModule
from structured_ssl.data.sampling import EpochSampler, ResumableDataLoader
from structured_ssl.methods import Frozen, StructuredSSL

REPO = Path(__file__).resolve().parents[2]


def start(root: Path, *extra: str, callbacks: tuple[dict, ...] = ()) -> subprocess.Popen:
    """Start ``structured-ssl fit`` of the default config: 2 epochs x 4 steps, batch 16, logs in ``root``."""
    recorder = {
        "class_path": "fault_injection.RecordSteps",
        "init_args": {"path": str(root / "steps.txt")},
    }
    args = [
        sys.executable, "-m", "structured_ssl.cli", "fit",
        "--config", str(REPO / "configs/default.yaml"),
        "--trainer.max_epochs=2", "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=1",
        "--trainer.log_every_n_steps=1", "--data.init_args.batch_size=16",
        f"--trainer.logger.init_args.save_dir={root}", f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        *(f"--trainer.callbacks+={json.dumps(c)}" for c in (recorder, *callbacks)),
        *extra,
    ]  # fmt: skip
    # this checkout's source first (not whatever copy is installed), then the test-only callbacks
    path = os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def fit(root: Path, *extra: str, callbacks: tuple[dict, ...] = ()) -> subprocess.CompletedProcess:
    return finish(start(root, *extra, callbacks=callbacks))


def signal_at(step: int, name: str) -> dict:
    return {
        "class_path": "fault_injection.SignalAtStep",
        "init_args": {"step": step, "signal": name},
    }


def steps(root: Path, rank: int = 0) -> dict[int, str]:
    """global step -> 'batch_idx data-checksum rng-digest loss' (a resumed step overwrites)."""
    lines = (root / ("steps.txt" if rank == 0 else f"steps.txt.rank{rank}")).read_text().split("\n")
    return {int(line.split()[0]): line.split(None, 1)[1] for line in lines if line}


def run_dir(root: Path) -> Path:
    """The run's TensorBoard directory (named by objective, group, loss and seed)."""
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    return run


def checkpoints(root: Path) -> Path:
    return run_dir(root) / "version_0" / "checkpoints"


def logged_losses(root: Path) -> dict[int, float]:
    """train/loss per step from every TensorBoard file of the run, the latest write winning."""
    values: dict[int, tuple[float, float]] = {}
    for events in sorted(run_dir(root).rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for scalar in accumulator.Scalars("train/loss"):
            if scalar.step not in values or scalar.wall_time >= values[scalar.step][0]:
                values[scalar.step] = (scalar.wall_time, scalar.value)
    return {step: value for step, (_, value) in values.items()}


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"] and a["epoch"] == b["epoch"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), f"{key} differs"
    for state_a, state_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for index, slots in state_a["state"].items():
            for name, value in slots.items():
                assert torch.equal(
                    torch.as_tensor(value), torch.as_tensor(state_b["state"][index][name])
                ), name
    assert a["lr_schedulers"] == b["lr_schedulers"]


# ----------------------------------------------------------------------------- end to end
DDP = (
    "--trainer.accelerator=cpu",
    "--trainer.devices=2",
    "--trainer.strategy=ddp",
    "--trainer.sync_batchnorm=true",
)
RESUME_CASES = {
    # BYOL: its EMA target network and momentum schedule must resume too
    "structured-byol": ("--model.init_args.loss=structured_ssl.ssl.losses.BYOL",),
    # A-SSL in 2 DDP processes, with a kornia augmentation (global-RNG draws under StepDraws.local_rng)
    "augmentation-ddp": (
        "--model=structured_ssl.methods.AugmentationSSL", "--model.init_args.extra_augmentations=[noise]", *DDP,
    ),
    # the training split held on the device, batches cut there (data.device_resident)
    "structured-device-batches": ("--data.init_args.device_resident=true",),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path: Path, case: str) -> None:
    extra = RESUME_CASES[case]
    ranks = 2 if "--trainer.devices=2" in extra else 1
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    straight.mkdir(), interrupted.mkdir()
    uninterrupted = start(straight, *extra)
    if ranks > 1:  # two DDP runs at once would oversubscribe the CPUs (and share a port)
        done = finish(uninterrupted)
        assert done.returncode == 0, done.stderr[-3000:]
    # killed at the start of step 8 (epoch 1, batch 3), every rank: the last checkpoint is step 5's
    killed = finish(start(interrupted, *extra, callbacks=(signal_at(7, "SIGKILL"),)))
    if ranks == 1:
        assert finish(uninterrupted).returncode == 0
    assert killed.returncode == -signal.SIGKILL
    assert max(steps(interrupted)) == 7
    assert (
        torch.load(checkpoints(interrupted) / "last.ckpt", weights_only=False)["global_step"] == 5
    )

    resumed = fit(interrupted, *extra, "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restored all states" in resumed.stderr
    assert [p.name for p in run_dir(interrupted).iterdir()] == ["version_0"], (
        "resume logs into the same run"
    )

    # on every rank: same batches, same random state before each step, same losses; then same final state
    for rank in range(ranks):
        assert steps(interrupted, rank) == steps(straight, rank) and len(steps(straight, rank)) == 8
    if ranks > 1:
        assert steps(straight, 0) != steps(straight, 1), "the ranks train on different data"
    assert (
        logged_losses(interrupted) == logged_losses(straight) and len(logged_losses(straight)) == 8
    )
    final = torch.load(checkpoints(interrupted) / "last.ckpt", weights_only=False)
    if case == "structured-byol":
        assert any(key.startswith("target.") for key in final["state_dict"])
    assert_same_training_state(
        torch.load(checkpoints(straight) / "last.ckpt", weights_only=False), final
    )


def test_sigterm_saves_last_checkpoint_at_the_next_step_boundary(tmp_path: Path) -> None:
    run = fit(tmp_path, callbacks=(signal_at(1, "SIGTERM"),))  # arrives during step 2
    assert run.returncode == 128 + signal.SIGTERM, run.stderr[-3000:]
    assert sorted(steps(tmp_path)) == [1, 2], "the run stops after the step the signal arrived in"
    checkpoint = torch.load(checkpoints(tmp_path) / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2
    assert checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 0, "batches": 2}
    ]
    assert "SIGTERM received: saved" in run.stderr


def test_nan_loss_stops_naming_step_and_term_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    poison = {"class_path": "fault_injection.PoisonBatch", "init_args": {"step": 6}}
    run = fit(tmp_path, callbacks=(poison,))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (message,) = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert "global step 6 (epoch 1, batch 2)" in message and "train/loss=nan" in message
    assert "last.ckpt was not overwritten" in message
    assert sorted(steps(tmp_path)) == [1, 2, 3, 4, 5, 6], "no step completed on the poisoned batch"
    checkpoint = torch.load(checkpoints(tmp_path) / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 5
    model = StructuredSSL.load_from_checkpoint(
        checkpoints(tmp_path) / "last.ckpt", weights_only=False
    )  # strict
    assert all(
        torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()
    )


# ----------------------------------------------------------------------------- units
def test_atomic_checkpoint_io_keeps_the_old_file_when_a_write_fails(
    tmp_path: Path, monkeypatch
) -> None:
    io, path = AtomicCheckpointIO(), tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    assert io.load_checkpoint(path)["step"] == 1

    def dies_mid_write(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt  # e.g. the job is killed while writing

    monkeypatch.setattr(torch, "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"], (
        "no temporary file is left behind"
    )


def test_resumable_loader_continues_where_it_stopped_and_orders_by_seed_and_epoch() -> None:
    data = DigitsDataModule(batch_size=32, train_subset=200)

    def loader() -> ResumableDataLoader:
        dataset = data.dataset("train")
        sampler = EpochSampler(dataset, seed=3, drop_last=True)
        return ResumableDataLoader(
            dataset, sampler=sampler, batch_size=32, drop_last=True, epoch_batches=lambda: 4
        )

    first = loader()
    first.sampler.set_epoch(1)
    batches = [y for _, y in first]
    assert len(batches) == 6
    partial = loader()
    partial.sampler.set_epoch(1)
    iterator = iter(partial)
    assert torch.equal(next(iterator)[1], batches[0]) and torch.equal(next(iterator)[1], batches[1])
    state = partial.state_dict()
    assert state == {"epoch": 1, "batches": 2}

    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)  # what Lightning does before the resumed epoch
    assert all(torch.equal(a[1], b) for a, b in zip(resumed, batches[2:], strict=True))

    # a position at the trainer's epoch length (limit_train_batches) means "start the next epoch"
    finished = loader()
    finished.sampler.set_epoch(1)
    for _, _ in zip(range(4), finished, strict=False):
        pass
    assert finished.state_dict() == {"epoch": 2, "batches": 0}

    other_epoch = loader()
    other_epoch.sampler.set_epoch(2)
    assert not torch.equal(next(iter(other_epoch))[1], batches[0])

    # two ranks draw disjoint halves of the same permutation
    dataset = data.dataset("train")
    ranks = [
        list(EpochSampler(dataset, num_replicas=2, rank=r, seed=3, drop_last=True)) for r in (0, 1)
    ]
    assert not set(ranks[0]) & set(ranks[1]) and len(ranks[0]) == len(ranks[1]) == 100


def test_checkpoint_after_eval_mode_loads_strictly_into_a_fresh_model() -> None:
    for method in (StructuredSSL, Frozen):
        model = method()
        model.eval()  # escnn caches expanded filters as buffers ...
        for module in model.modules():
            module.training = True  # ... and keeps them when Lightning flips the flags back
        assert any(k.endswith(".filter") for k in model.state_dict())
        checkpoint = {"state_dict": model.state_dict()}
        model.on_save_checkpoint(checkpoint)
        fresh = method()
        fresh.load_state_dict(checkpoint["state_dict"], strict=True)
        old = {"state_dict": model.state_dict()}  # a checkpoint written without the hook loads too
        fresh.on_load_checkpoint(old)
        fresh.load_state_dict(old["state_dict"], strict=True)


def test_exact_resume_restores_torch_numpy_and_python_random_states() -> None:
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = ExactResume().state_dict()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    buffer = io.BytesIO()
    torch.save(state, buffer)  # portable: loads without unpickling arbitrary objects
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    callback = ExactResume()
    callback.load_state_dict(state)
    trainer = SimpleNamespace(global_rank=0, fit_loop=SimpleNamespace(restarting=False))
    callback.on_train_start(trainer, None)  # restored right before the first resumed step
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]
