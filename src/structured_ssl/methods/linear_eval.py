"""Offline linear evaluation: a frozen pretrained encoder and a linear classifier on top.

The paper's protocol reads a pretrained encoder's features with a linear classifier trained
on labels; the online probe of [`SSLMethod`][structured_ssl.methods.base.SSLMethod] estimates the
same while pretraining, and this module measures it after the fact, from a checkpoint:

    structured-ssl fit  --config configs/eval/linear.yaml --model.init_args.checkpoint PRETRAINED.ckpt
    structured-ssl test --config configs/eval/linear.yaml --model.init_args.checkpoint PRETRAINED.ckpt --ckpt_path last

[`LinearEval`][structured_ssl.methods.linear_eval.LinearEval] is the
[`Frozen`][structured_ssl.methods.baselines.Frozen] baseline with
pretrained weights: it is an [`SSLMethod`][structured_ssl.methods.base.SSLMethod] (so the CLI, its
data links and its config checks take it like any objective), whose encoder is rebuilt from the
checkpoint's plain settings (group, encoder spec, input size) and loaded with the checkpoint's
weights, whatever prefix wraps them (``model.``, ``module.``, ``_orig_mod.``; solo-learn#123,
lightly#1475). The
encoder stays frozen: no gradient, eval mode always (batch-norm statistics never move), not
in the optimizer; only the probe (BatchNorm without affine + Linear) trains.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from structured_ssl.encoders.escnn_state import drop_escnn_caches
from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group
from structured_ssl.methods.base import SSLMethod
from structured_ssl.methods.checkpoints import load_checkpoint
from structured_ssl.ssl.pairs import PairSampling

Features = Literal["invariant", "lifted"]

#: prefixes that wrappers put in front of a LightningModule's own keys
WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.", "_forward_module.")

#: the pretraining settings the encoder is built from, and their types
SETTINGS: dict[str, type] = {"group": Group, "encoder": EncoderSpec, "pairs": PairSampling}


def linear_classifier(in_dim: int, num_classes: int) -> nn.Sequential:
    """BatchNorm without affine, then Linear (as MAE's probe): the classifier does not depend
    on the scale of the features, which differs between encoders and feature kinds."""
    return nn.Sequential(nn.BatchNorm1d(in_dim, affine=False), nn.Linear(in_dim, num_classes))


# ----------------------------------------------------------------------------- loading
#: how a user of LinearEval reads a checkpoint that the safe loader refuses
TRUST_CHECKPOINT_HINT = (
    "pass --model.init_args.trust_checkpoint=true (LinearEval(..., trust_checkpoint=True))"
)


def read_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The checkpoint dictionary (on the CPU), read without running code: tensors, plain
    values and the project's settings only
    ([`load_checkpoint`][structured_ssl.methods.checkpoints.load_checkpoint]), unless ``trust`` is
    set."""
    path = Path(path)
    if str(path) in ("", "???"):
        raise ValueError(
            "model.checkpoint is not set: pass --model.init_args.checkpoint PATH/TO/PRETRAINING.ckpt"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"model.checkpoint={str(path)!r} does not exist (expected a pretraining .ckpt file)"
        )
    checkpoint = load_checkpoint(path, trust=trust, trust_hint=TRUST_CHECKPOINT_HINT)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(
            f"model.checkpoint={str(path)!r} is not a Lightning checkpoint (no 'state_dict')"
        )
    return checkpoint


def pretrained_class(hparams: dict[str, Any]) -> str:
    """Name of the pretraining objective (LightningCLI records ``_class_path``), for the record."""
    class_path = hparams.get("_class_path")
    if not class_path:
        return "unknown"
    from structured_ssl.methods.class_paths import ALLOW_ENV, is_allowed

    module, _, name = str(class_path).rpartition(".")
    if not is_allowed(str(class_path)):  # checked BEFORE import: importing runs the module's code
        raise ValueError(
            f"the checkpoint was written by {class_path!r}, which is not a structured_ssl SSLMethod "
            f"(not imported; to trust a class of your own, set {ALLOW_ENV}={class_path})"
        )
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, SSLMethod)):
        raise ValueError(
            f"the checkpoint was written by {class_path!r}, which is not a structured_ssl SSLMethod"
        )
    return name


def _as_setting(cls: type[Any], value: Any) -> Any:
    """A setting from a checkpoint: the dataclass itself (models built in Python) or its plain
    dict (LightningCLI checkpoints), lists back to tuples."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return dataclasses.replace(value)  # unpickling set its fields directly: validate them
    if not isinstance(value, dict):
        raise ValueError(
            f"checkpoint hyperparameter of type {type(value).__name__} is not a {cls.__name__}"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in value.items() if k in names}
    )


def pretraining_settings(hparams: dict[str, Any]) -> dict[str, Any]:
    """group, encoder and pairs as dataclasses, plus in_channels, image_size, num_classes."""
    settings = {key: _as_setting(cls, hparams.get(key)) for key, cls in SETTINGS.items()}
    for key, default in (("in_channels", 1), ("image_size", 21), ("num_classes", 10)):
        settings[key] = int(hparams.get(key, default))
    return settings


def strip_wrapper_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys of the LightningModule itself: leading wrapper prefixes removed, and torch.compile's
    ``._orig_mod.`` inside keys."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        out[key.replace("._orig_mod.", ".")] = value
    return out


def encoder_state(
    state: dict[str, torch.Tensor], encoder: nn.Module, path: str
) -> dict[str, torch.Tensor]:
    """The online encoder's weights (not an EMA target's) out of a checkpoint's state dict."""
    state = strip_wrapper_prefixes(state)
    for prefix in ("encoder.", "backbone."):
        found = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if found:
            drop_escnn_caches(encoder, found)
            return found
    sample = ", ".join(list(state)[:4])
    raise KeyError(
        f"model.checkpoint={path!r} holds no encoder weights (keys 'encoder.*'); its keys start: {sample}"
    )


# ----------------------------------------------------------------------------- the module
class LinearEval(SSLMethod):
    """A linear classifier (the probe) on the frozen encoder of a pretraining checkpoint.

    Logs ``train/linear_loss``, ``val/linear_acc`` and, on ``test``, ``test/linear_acc`` and
    ``test_rotated/linear_acc`` (the data module's two test loaders).

    Args:
        checkpoint: path of the pretraining ``.ckpt`` (any objective of this project).
        features: "invariant" (group-pooled ``(B, C)``, the paper's read-out) or "lifted" (the
            whole lifted map ``(B, C, G, H, W)`` flattened: what the structure keeps).
        lr, weight_decay, momentum: SGD for the probe, cosine-annealed per step to zero.
        in_channels, image_size, num_classes: linked from the data module by the CLI; each
            must match what the checkpoint's encoder was trained for (None: take the
            checkpoint's).
        trust_checkpoint: read ``checkpoint`` with the full unpickler, which can run code
            stored in the file. Off: only tensors, plain values and the project's settings
            load, and a checkpoint needing more is refused with the type it holds.
    """

    uses_pairs = False  # no projector, no pair loss
    accuracy_name = "linear_acc"

    def __init__(
        self,
        checkpoint: str,
        features: Features = "invariant",
        lr: float = 0.1,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        in_channels: int | None = None,
        image_size: int | None = None,
        num_classes: int | None = None,
        trust_checkpoint: bool = False,
    ) -> None:
        if features not in ("invariant", "lifted"):
            raise ValueError(f"model.features={features!r}; expected 'invariant' or 'lifted'")
        saved = read_checkpoint(checkpoint, trust=trust_checkpoint)
        hparams = dict(saved.get("hyper_parameters") or {})
        objective = pretrained_class(hparams)  # before anything is built or imported
        settings = pretraining_settings(hparams)
        for name, given in (
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("num_classes", num_classes),
        ):
            if given is not None and given != settings[name]:
                raise ValueError(
                    f"model.{name}={given} (from the data) does not match the checkpoint: its encoder was "
                    f"trained with {name}={settings[name]} ({checkpoint}); evaluate on data of the same shape"
                )
        super().__init__(**settings)  # builds the encoder (random weights) and the probe
        # The hyperparameters of THIS module are its own arguments (SSLMethod recorded the
        # pretraining settings): a LinearEval checkpoint then reloads with LinearEval(...).
        # Trust is never recorded: each reader of a file decides it anew.
        self.hparams.clear()
        self.save_hyperparameters(ignore=["trust_checkpoint"])
        self.pretrained_class = objective
        self.features = features
        weights = encoder_state(saved["state_dict"], self.encoder, checkpoint)
        missing, unexpected = self.encoder.train().load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise KeyError(
                f"model.checkpoint={checkpoint!r}: its encoder weights do not fit the rebuilt "
                f"{type(self.encoder).__name__}: missing {missing[:4]}, unexpected {unexpected[:4]}"
            )
        self.encoder.requires_grad_(False)
        self.encoder.eval()  # after the weights are in: escnn caches its filters now, once
        if features == "lifted":
            self.probe = linear_classifier(self.feature_dim(), self.num_classes)

    # ----------------------------------------------------------------- features
    def feature_dim(self) -> int:
        x = torch.zeros(2, self.in_channels, self.image_size, self.image_size)
        return int(self.read_features(x).shape[1])

    @torch.no_grad()
    def read_features(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen features of un-augmented images ``(B, D)``."""
        z = self.encoder(x)
        if self.features == "invariant":
            return self.encoder.invariant(z)
        return z.flatten(1)

    def train(self, mode: bool = True) -> LinearEval:
        """Lightning puts the module in train mode for every epoch: the encoder stays in eval."""
        super().train(mode)
        if self.encoder.training:
            self.encoder.eval()
        return self

    # ----------------------------------------------------------------- steps
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.probe(self.read_features(x))

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/linear_loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)  # the linear head's scores: val/linear_acc, test/linear_acc

    def predict_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        return self(batch[0]).argmax(dim=1)

    # ----------------------------------------------------------------- optimisation
    def trainable_parameters(self) -> list[nn.Parameter]:
        return []  # only the probe learns

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(
            [{"params": list(self.probe.parameters()), "name": "probe"}],
            lr=self.hparams["lr"],
            momentum=self.hparams["momentum"],
            weight_decay=self.hparams["weight_decay"],
        )
        total = self.trainer.estimated_stepping_batches
        if total == float("inf"):
            raise ValueError(
                "linear evaluation needs a finite run: set trainer.max_epochs or trainer.max_steps"
            )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, int(total)))
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only the probe: the encoder is the pretraining checkpoint's, rebuilt from
        ``model.checkpoint`` (and its escnn caches would not load strictly anyway)."""
        state = checkpoint.get("state_dict") or {}
        for key in [k for k in state if k.startswith("encoder.")]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Put the rebuilt encoder's own state back, so Lightning's strict load succeeds."""
        state = checkpoint.setdefault("state_dict", {})
        for key, value in self.encoder.state_dict().items():
            state.setdefault(f"encoder.{key}", value)
