"""The answer a newcomer reads at the end of ``make fit``: is this accuracy any good?

An accuracy alone cannot be judged: on the embedded digits a logistic regression on the raw
pixels already scores about 0.96, a random network's features are not far behind, and the
online probe (``val/probe_acc``) is still learning when a short run stops. So
[`FitSummary`][structured_ssl.callbacks.fit_summary.FitSummary] computes three numbers in the same
run, on the TEST split, each with the same linear evaluation (a logistic regression fitted to
convergence on frozen train features,
[`fit_linear_classifier`][structured_ssl.callbacks.metrics.fit_linear_classifier]):

* this run's encoder;
* the same encoder at random initialisation (the paper's "Frozen" column);
* the raw pixels (no encoder at all).

It prints them as a short table with the TensorBoard command, and logs them as
``z_summary/<name>_test_linear_acc`` (`SUMMARY_GROUP`): one point each, in a tag group
that TensorBoard's Time Series, which sorts groups by name and expands the first two, files
after the training curves.

With ``twin=True`` (the default run, ``configs/default.yaml``) and a run of structured SSL,
it also trains the A-SSL twin that H-SSL replaces
([`AugmentationSSL`][structured_ssl.methods.augmentation.AugmentationSSL], the same group, encoder,
pair sampling, loss, head and optimiser, the same epochs and batches, from the same seed) and prints
both methods' test accuracy and seconds spent in training steps: the library's claim (two fibers of
ONE pass stand in for two augmented views, at about half the step cost) in the newcomer's first run.
The timing is summed over training batches only (validation and the summary's own work excluded), so
both rows measure the same thing.
"""

from __future__ import annotations

import copy
import inspect
import shutil
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from structured_ssl.callbacks.metrics import fit_linear_classifier
from structured_ssl.callbacks.step_clock import StepClock
from structured_ssl.lifted.modes import eval_mode
from structured_ssl.methods import AugmentationSSL, Frozen, StructuredSSL
from structured_ssl.methods.base import SSLMethod

#: the tag group of the end-of-fit accuracies: ``z_`` sorts it after every curve group
#: (``lr-*``, ``train``, ``val``) in TensorBoard's Time Series, so the page opens on the curves
SUMMARY_GROUP = "z_summary"


def linear_test_accuracy(
    features: Any, train: Any, test: Any, num_classes: int, l2: float, batch_size: int = 256
) -> float:
    """Fit on ``features(train images)``, score on ``features(test images)``."""
    (train_x, train_y), (test_x, test_y) = train, test

    def embed(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([features(chunk) for chunk in x.split(batch_size)])

    classifier = fit_linear_classifier(embed(train_x), train_y, num_classes, l2=l2)
    with torch.no_grad():
        return float((classifier(embed(test_x)).argmax(1) == test_y).float().mean())


def _datamodule(trainer: L.Trainer) -> Any:
    """The trainer's data module: Lightning sets ``trainer.datamodule`` at run time (undeclared)."""
    return getattr(trainer, "datamodule", None)


def split_tensors(
    datamodule: Any, name: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A whole split as ``(images, labels)`` on ``device`` (None if the data module lacks it)."""
    try:
        dataset = datamodule.dataset(name)
    except (AttributeError, KeyError):
        return None
    tensors = getattr(dataset, "tensors", None)
    if tensors is None:
        pairs = [dataset[i] for i in range(len(dataset))]
        tensors = torch.stack([p[0] for p in pairs]), torch.as_tensor([int(p[1]) for p in pairs])
    return tensors[0].to(device), tensors[1].to(device)


def random_backbone(
    module: L.LightningModule, seed: int, initial: nn.Module | None = None
) -> L.LightningModule:
    """The paper's Frozen reference for ``module``: the same encoder settings, untrained
    (``initial``: a researcher's own encoder as it was before training, which has no settings
    to rebuild it from)."""
    if not isinstance(module, SSLMethod):
        raise TypeError(f"random_backbone needs an SSLMethod, got {type(module).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        frozen = Frozen(
            group=module.group, encoder=_untrained(module, initial), in_channels=module.in_channels,
            image_size=module.image_size, num_classes=module.num_classes,
        )  # fmt: skip
    return frozen.to(module.device)


def _untrained(module: Any, initial: nn.Module | None) -> Any:
    """What rebuilds ``module``'s encoder untrained: its settings, or a copy of the own encoder."""
    return module.encoder_spec if initial is None else copy.deepcopy(initial)


def augmentation_twin(
    module: L.LightningModule, initial: nn.Module | None = None
) -> L.LightningModule | None:
    """The A-SSL model a structured-SSL ``module`` replaces: its own settings, untrained
    (None when ``module`` is not structured SSL)."""
    if type(module) is not StructuredSSL:
        return None
    accepted = set(inspect.signature(SSLMethod.__init__).parameters) - {"self"}
    settings = {k: v for k, v in module.hparams.items() if k in accepted}
    # the settings as the module holds them (a CLI run's hparams keep plain dicts)
    settings.update(
        group=module.group,
        encoder=_untrained(module, initial),
        pairs=module.pair_sampling,
        optimizer=module.optimizer_spec,
        loss=copy.deepcopy(module.loss_fn),
    )
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
    return AugmentationSSL(**settings)


def train_twin(trainer: L.Trainer, twin: L.LightningModule, seed: int) -> float:
    """Fit ``twin`` on the run's data for the run's epochs and batches; its step seconds."""
    clock = StepClock()
    datamodule = _datamodule(trainer)
    fitter = L.Trainer(
        max_epochs=trainer.max_epochs, limit_train_batches=trainer.limit_train_batches, limit_val_batches=0,
        num_sanity_val_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[clock], accelerator=trainer.accelerator, devices=1,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fitter.fit(twin, datamodule=datamodule)
    datamodule.trainer = trainer  # the run's own trainer again, for the callbacks after this one
    return clock.seconds


def tensorboard_command(trainer: L.Trainer) -> str:
    """The command that opens this run's logs, with the TensorBoard of this environment."""
    executable = Path(sys.executable).parent / "tensorboard"
    if shutil.which("tensorboard") == str(executable):
        executable = Path("tensorboard")  # the one PATH finds: no path to print
    elif executable.is_relative_to(Path.cwd()):
        executable = executable.relative_to(Path.cwd())  # e.g. .venv/bin/tensorboard
    log_dir = getattr(trainer.logger, "save_dir", None) or trainer.default_root_dir
    return f"{executable} --logdir {log_dir}"


class FitSummary(StepClock):
    """At fit end: this run vs a random backbone vs raw pixels, linear evaluation on test;
    with ``twin``, structured SSL beside its A-SSL twin trained for the same epochs."""

    def __init__(
        self, l2: float = 1e-4, seed: int = 0, split: str = "test", twin: bool = False
    ) -> None:
        super().__init__()  # the clock times this run's training steps
        self.l2, self.seed, self.split, self.twin = l2, seed, split, twin
        self.twin_results: dict[str, float] | None = None
        self.initial: nn.Module | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A researcher's own encoder is rebuilt untrained from a copy taken now (a shipped one
        from its settings)."""
        own = isinstance(pl_module, SSLMethod) and pl_module.encoder_spec is None
        self.initial = (
            copy.deepcopy(pl_module.encoder) if isinstance(pl_module, SSLMethod) and own else None
        )

    def results(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, float] | None:
        train = split_tensors(_datamodule(trainer), "train", module.device)
        test = split_tensors(_datamodule(trainer), self.split, module.device)
        if train is None or test is None or not hasattr(module, "embed"):
            return None
        classes = int(getattr(module, "num_classes", 0) or int(train[1].max()) + 1)
        frozen = random_backbone(module, self.seed, self.initial)
        # the twin is trained in this process by a Trainer of its own: one process only (under
        # DDP the other ranks have left the fit, and a second process group would wait on them)
        twin = (
            augmentation_twin(module, self.initial)
            if self.twin and trainer.world_size == 1
            else None
        )
        twin_seconds = (
            train_twin(trainer, twin.to(module.device), self.seed) if twin is not None else None
        )
        results = {}
        with torch.inference_mode(False), torch.no_grad():
            models = [("run", module), ("frozen", frozen)] + (
                [("twin", twin)] if twin is not None else []
            )
            for name, model in models:
                with eval_mode(model):
                    results[name] = linear_test_accuracy(model.embed, train, test, classes, self.l2)
            results["pixels"] = linear_test_accuracy(
                lambda x: x.flatten(1).float(), train, test, classes, self.l2
            )
        if twin_seconds is not None:
            self.twin_results = {"run_s": self.seconds, "twin_s": twin_seconds}
        return results

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        results = self.results(trainer, pl_module)
        if results is None:
            return
        if trainer.logger is not None:
            trainer.logger.log_metrics(
                {f"{SUMMARY_GROUP}/{k}_{self.split}_linear_acc": v for k, v in results.items()},
                step=trainer.global_step,
            )
        print(self.table(trainer, pl_module, results), flush=True)
        if self.twin_results is not None:
            print(self.twin_table(trainer, pl_module, results), flush=True)

    def twin_table(
        self, trainer: L.Trainer, module: L.LightningModule, results: dict[str, float]
    ) -> str:
        """H-SSL beside the A-SSL it replaces: accuracy and training-step seconds."""
        assert self.twin_results is not None
        run_s, twin_s = self.twin_results["run_s"], self.twin_results["twin_s"]
        rows = [
            ("H-SSL: fibers of one pass (this run)", results["run"], run_s),
            ("A-SSL: two augmented views (its twin)", results["twin"], twin_s),
        ]
        width = max(len(name) for name, _, _ in rows)
        return "\n".join(
            [
                "",
                f"structured SSL beside the augmentation SSL it replaces: same encoder, loss, head and optimiser, "
                f"{trainer.current_epoch} epochs each, {self.split} accuracy as above:",
                f"  | {'objective'.ljust(width)} | {self.split} acc | training-step s |",
                f"  |{'-' * (width + 2)}|{'-' * (len(self.split) + 6)}|-----------------|",
                *(
                    f"  | {name.ljust(width)} | {f'{acc:.3f}'.ljust(len(self.split) + 4)} | {f'{sec:.1f}'.ljust(15)} |"
                    for name, acc, sec in rows
                ),
                f"  (H-SSL / A-SSL step time: {run_s / max(twin_s, 1e-9):.2f}; "
                "the A-SSL twin is trained only for this table.)",
            ]
        )

    def table(
        self, trainer: L.Trainer, module: L.LightningModule, results: dict[str, float]
    ) -> str:
        group = getattr(module, "group", None)
        what = type(module).__name__
        if group is not None:
            what += f", {group.plugin.describe()}"
        size = len(_datamodule(trainer).dataset(self.split))
        rows = [
            (f"this run's encoder ({what})", results["run"]),
            ("the same encoder, untrained (Frozen)", results["frozen"]),
            ("raw pixels, no encoder", results["pixels"]),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [
            "",
            f"{self.split} accuracy of a logistic regression fitted to convergence on frozen features "
            f"({size} {self.split} images):",
            f"  | {'features'.ljust(width)} | {self.split} acc |",
            f"  |{'-' * (width + 2)}|{'-' * (len(self.split) + 6)}|",
            *(
                f"  | {name.ljust(width)} | {f'{value:.3f}'.ljust(len(self.split) + 4)} |"
                for name, value in rows
            ),
            "  (val/probe_acc is the online probe, still learning when a short run stops; compare these.)",
            f"  TensorBoard: {tensorboard_command(trainer)}",
        ]
        return "\n".join(lines)
