"""The answer a newcomer reads at the end of ``make fit``: is this accuracy any good?

An accuracy alone cannot be judged: on the embedded digits a logistic regression on the raw
pixels already scores about 0.96, a random network's features are not far behind, and the
online probe (``val/probe_acc``) is still learning when a short run stops. So
:class:`FitSummary` computes three numbers in the same run, on the TEST split, each with the
same linear evaluation (a logistic regression fitted to convergence on frozen train features,
:func:`~structured_ssl.callbacks.metrics.fit_linear_classifier`):

* this run's encoder;
* the same encoder at random initialisation (the paper's "Frozen" column);
* the raw pixels (no encoder at all).

It prints them as a short table with the TensorBoard command, and logs them as
``summary/<name>_test_linear_acc``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch

from structured_ssl.callbacks.metrics import eval_mode, fit_linear_classifier


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


def split_tensors(datamodule: Any, name: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
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


def random_backbone(module: L.LightningModule, seed: int) -> L.LightningModule:
    """The paper's Frozen reference for ``module``: the same encoder settings, untrained."""
    from structured_ssl.methods import Frozen

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        frozen = Frozen(
            group=module.group, encoder=module.encoder_spec, in_channels=module.in_channels,
            image_size=module.image_size, num_classes=module.num_classes,
        )  # fmt: skip
    return frozen.to(module.device)


def tensorboard_command(trainer: L.Trainer) -> str:
    """The command that opens this run's logs, with the TensorBoard of this environment."""
    executable = Path(sys.executable).parent / "tensorboard"
    if executable.is_relative_to(Path.cwd()):
        executable = executable.relative_to(Path.cwd())  # e.g. .venv/bin/tensorboard
    log_dir = getattr(trainer.logger, "save_dir", None) or trainer.default_root_dir
    return f"{executable} --logdir {log_dir}"


class FitSummary(L.Callback):
    """At fit end: this run vs a random backbone vs raw pixels, linear evaluation on test."""

    def __init__(self, l2: float = 1e-4, seed: int = 0, split: str = "test") -> None:
        self.l2, self.seed, self.split = l2, seed, split

    def results(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, float] | None:
        train = split_tensors(trainer.datamodule, "train", module.device)
        test = split_tensors(trainer.datamodule, self.split, module.device)
        if train is None or test is None or not hasattr(module, "embed"):
            return None
        classes = int(getattr(module, "num_classes", 0) or int(train[1].max()) + 1)
        frozen = random_backbone(module, self.seed)
        results = {}
        with torch.inference_mode(False), torch.no_grad():
            for name, model in (("run", module), ("frozen", frozen)):
                with eval_mode(model):
                    results[name] = linear_test_accuracy(model.embed, train, test, classes, self.l2)
            results["pixels"] = linear_test_accuracy(lambda x: x.flatten(1).float(), train, test, classes, self.l2)
        return results

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        results = self.results(trainer, pl_module)
        if results is None:
            return
        if trainer.logger is not None:
            trainer.logger.log_metrics({f"summary/{k}_{self.split}_linear_acc": v for k, v in results.items()}, step=trainer.global_step)
        print(self.table(trainer, pl_module, results), flush=True)

    def table(self, trainer: L.Trainer, module: L.LightningModule, results: dict[str, float]) -> str:
        group = getattr(module, "group", None)
        what = type(module).__name__
        if group is not None:
            what += f", {group.plugin.describe()}"
        size = len(trainer.datamodule.dataset(self.split))
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
            *(f"  | {name.ljust(width)} | {f'{value:.3f}'.ljust(len(self.split) + 4)} |" for name, value in rows),
            "  (val/probe_acc is the online probe, still learning when a short run stops; compare these.)",
            f"  TensorBoard: {tensorboard_command(trainer)}",
        ]
        return "\n".join(lines)
