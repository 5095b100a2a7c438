"""The shared LightningModule: encoder + projector + loss + online probe + optimisation.

A method subclass says only where its positive pair comes from, in two small hooks:

* [`SSLMethod.make_views`][structured_ssl.methods.base.SSLMethod.make_views] draws what a step needs
  (augmented images, fiber positions);
* [`SSLMethod.read_pairs`][structured_ssl.methods.base.SSLMethod.read_pairs] runs an encoder on
  those views and returns the two bundle batches plus the invariant embedding the probe reads.

Keeping the draw separate from the read lets a momentum (BYOL-style) target network read the
SAME pairs as the online network. Everything else (projection, loss, EMA target, probe,
optimizer and schedule, logging) lives here or in its own small module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from structured_ssl.config.model_checks import check_model_settings
from structured_ssl.encoders.escnn_state import drop_escnn_caches
from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.groups import Group
from structured_ssl.lifted.base import LiftedEncoder
from structured_ssl.lifted.contract import check_encoder
from structured_ssl.lifted.pair_batch import PairBatch
from structured_ssl.methods.heads import projection_head
from structured_ssl.methods.optim import (
    build_optimizer,
    constant_lr,
    scaled_lr,
    warmup_cosine_lambda,
)
from structured_ssl.methods.saved_settings import save_settings
from structured_ssl.ssl.draws import StepDraws, run_seed
from structured_ssl.ssl.ema import ema_update_, momentum_at
from structured_ssl.ssl.external_loss import as_pair_loss
from structured_ssl.ssl.losses import NTXent, PairLoss
from structured_ssl.ssl.pairs import FiberGrid, PairSampling


@dataclass(frozen=True)
class OptimizerSpec:
    """Optimizer and schedule settings.

    Args:
        name: sgd, adamw or lars.
        lr: base learning rate (scaled by the global batch size when ``lr_scaling`` is set).
        weight_decay: applied to weights; LARS skips biases and norm parameters.
        momentum: SGD/LARS momentum.
        warmup_epochs: linear warm-up, then cosine decay to zero, stepped per optimizer step.
        lr_scaling: "linear" (lr * B / 256), "sqrt" or None.
        probe_lr: learning rate of the online linear probe (its own parameter group: no
            weight decay, no schedule, never LARS-adapted).
        implementation: how the step runs, not what it computes: "auto" (multi-tensor on
            CUDA, per tensor on CPU), "loop", "foreach", or "fused" (sgd/adamw only).
    """

    name: Literal["sgd", "adamw", "lars"] = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    lr_scaling: Literal["linear", "sqrt"] | None = None
    probe_lr: float = 1e-2
    implementation: Literal["auto", "loop", "foreach", "fused"] = "auto"


class SSLMethod(L.LightningModule):
    """Base class of every objective (A-SSL, S-SSL, hybrid, Frozen, Supervised).

    ``uses_pairs = False`` (Frozen, Supervised) builds no projector and no loss target.

    Args:
        group: the group description (encoder, augmentations and fiber sampler read it).
        encoder: which encoder to build (an ``EncoderSpec``: structured or its structure-free
            twin; null: the default spec), or a module of yours satisfying the encoder contract
            (docs/guides/own-encoder.md).
        pairs: the pair sampling (bundle size g0, maximum topographic distance, pairs per image).
        loss: the pair loss plug-in (NTXent, VICReg, BarlowTwins, BYOL).
        projector: widths of the projection head.
        predictor: hidden widths of the BYOL predictor (used only when the loss needs a
            target); it ends in a Linear back to the projector's width, without BatchNorm.
        ema_momentum: base momentum of the EMA target (cosine-annealed to 1); BYOL's 0.996.
        optimizer: optimizer and schedule.
        in_channels, image_size, num_classes: linked from the DataModule by the CLI.
    """

    filled_arguments: ClassVar[tuple[str, ...]] = ()  # subclasses pass all **kwargs up to here

    def __init__(
        self,
        group: Group = Group(),
        encoder: EncoderSpec | nn.Module | None = None,
        pairs: PairSampling = PairSampling(),
        loss: PairLoss | None = None,
        projector: tuple[int, ...] = (128, 128, 128),
        predictor: tuple[int, ...] = (128, 128),
        ema_momentum: float = 0.996,
        optimizer: OptimizerSpec = OptimizerSpec(),
        in_channels: int = 1,
        image_size: int = 21,
        num_classes: int = 10,
    ) -> None:
        own = encoder is not None and not isinstance(encoder, EncoderSpec)  # a module of yours
        spec = None if own else cast(EncoderSpec | None, encoder) or EncoderSpec()
        check_model_settings(type(self), group, spec, pairs, image_size, in_channels)
        super().__init__()
        save_settings(self, loss, own_encoder=spec is None)  # the loss kept, no own module
        self.group = group
        self.encoder_spec = spec
        self.pair_sampling = pairs
        loss = as_pair_loss(loss)  # from Python, any (z0, z1) module is wrapped
        self.loss_fn = loss if loss is not None else NTXent(temperature=0.1)
        self.optimizer_spec = optimizer
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        if num_classes < 2:
            raise ValueError(
                f"num_classes={num_classes}: a classification probe needs at least 2 classes"
            )
        self.encoder: LiftedEncoder
        if spec is None:  # a researcher's own module: one line naming a missing member
            check_encoder(encoder, group, in_channels, image_size)
            # typed as the shipped base: an nn.Module with every member of the contract (checked)
            self.encoder = cast(LiftedEncoder, encoder)
        else:
            self.encoder = build_encoder(spec, self.group, in_channels, image_size)
        self.grid = self._fiber_grid(in_channels, image_size)
        self.projector: nn.Module | None = None
        self.predictor: nn.Module | None = None
        self.target: nn.ModuleDict | None = None
        if self.uses_pairs:
            self.projector = head = projection_head(
                tuple(projector), self.pair_dim(), self.loss_fn.head_final_batchnorm
            )
            if self.loss_fn.needs_target:
                self.predictor = projection_head(
                    tuple(predictor) + (projector[-1],), projector[-1], final_batchnorm=False
                )
                self.target = nn.ModuleDict(
                    {"encoder": copy.deepcopy(self.encoder), "projector": copy.deepcopy(head)}
                )
                self.target.requires_grad_(False)
        self.ema_momentum = ema_momentum
        # BatchNorm without affine before the linear layer (as MAE's probe): the probe then
        # does not depend on the feature scale, which drifts while the encoder trains.
        self.probe = nn.Sequential(
            nn.BatchNorm1d(self.encoder.invariant_dim, affine=False),
            nn.Linear(self.encoder.invariant_dim, num_classes),
        )
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_accs = nn.ModuleDict(
            {
                name: MulticlassAccuracy(num_classes, average="micro")
                for name in ("test", "test_rotated")
            }
        )

    uses_pairs: bool = True
    #: the accuracy validation and test log (``val/probe_acc``; LinearEval: ``linear_acc``).
    accuracy_name: str = "probe_acc"
    #: the objective pairs fibers of ONE lifted map (S-SSL, hybrid): it needs a group axis.
    reads_fiber_pairs: bool = False
    #: the config checks read this class' group / encoder / pairs settings (config_checks
    #: asks this marker instead of importing the methods, which import config_checks).
    takes_model_settings: bool = True

    # ----------------------------------------------------------------- what a method says
    def make_views(self, x: torch.Tensor, draws: StepDraws | None = None) -> Any:
        """Draw what one step needs from the un-augmented batch ``x``, every random choice
        from ``draws`` (None:
        [`StepDraws.from_global_rng`][structured_ssl.ssl.draws.StepDraws.from_global_rng])."""
        raise NotImplementedError

    def read_pairs(self, views: Any, encoder: nn.Module) -> PairBatch:
        """Run ``encoder`` on the views and read the two bundle batches."""
        raise NotImplementedError

    def pair_dim(self) -> int:
        """Width of one bundle vector (the projector's input): |g0| x C."""
        cells = 1
        for k in self.grid.bundle:
            cells *= k
        return cells * self.encoder.out_channels

    @property
    def objective_name(self) -> str:
        return type(self).__name__

    # ----------------------------------------------------------------- shared machinery
    def _fiber_grid(self, in_channels: int, image_size: int) -> FiberGrid:
        was_training = self.encoder.training
        with torch.no_grad():
            lifted = self.encoder.eval()(torch.zeros(1, in_channels, image_size, image_size))
        self.encoder.train(was_training)
        shape = tuple(self.encoder.fiber_map(lifted).shape[2:])
        return FiberGrid.of(
            shape, self.encoder.fiber_grid_cyclic(), self.pair_sampling.g0_size, self.group.kind
        )

    def step_draws(self, batch_idx: int) -> StepDraws:
        """This rank's draws for the current training micro-batch: seeded from (run seed,
        step), split by global example index (see
        [`structured_ssl.ssl.draws`][structured_ssl.ssl.draws]). Outside a Trainer (a benchmark
        calling ``training_step`` by hand) the global RNG draws."""
        try:
            trainer = self.trainer
        except RuntimeError:  # not attached to a Trainer
            return StepDraws.from_global_rng()
        accumulate = max(1, int(trainer.accumulate_grad_batches))
        step = trainer.global_step * accumulate + batch_idx % accumulate
        return StepDraws(run_seed(), step, trainer.global_rank, trainer.world_size)

    def ssl_terms(
        self, x: torch.Tensor, draws: StepDraws | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The loss terms for one un-augmented batch, and the invariant embedding."""
        views = self.make_views(x, draws if draws is not None else StepDraws.from_global_rng())
        pairs = self.read_pairs(views, self.encoder)
        projector = self.projector
        if projector is None:
            raise RuntimeError(f"{type(self).__name__} trains without pairs: it has no projector")
        h1, h2 = projector(pairs.first), projector(pairs.second)
        if self.target is None:
            terms = self.loss_fn(h1, h2)
            if pairs.auxiliary is not None:
                weight = pairs.auxiliary_weight
                extra = self.loss_fn(projector(pairs.auxiliary[0]), projector(pairs.auxiliary[1]))
                terms = {
                    **terms,
                    "loss": (1 - weight) * terms["loss"] + weight * extra["loss"],
                    "aux_loss": extra["loss"],
                }
            return terms, pairs.invariant
        assert self.predictor is not None
        with torch.no_grad():
            target_pairs = self.read_pairs(views, self.target["encoder"])
            t1 = self.target["projector"](target_pairs.first)
            t2 = self.target["projector"](target_pairs.second)
        return self.loss_fn(self.predictor(h1), self.predictor(h2), t1, t2), pairs.invariant

    def probe_loss(self, invariant: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the online probe on DETACHED features (no gradient to the encoder).
        Unlabelled images (label -1, e.g. a flat image folder) are left out; with none
        labelled the loss is 0 (a sum over counts, so no host sync and no NaN)."""
        logits = self.probe(invariant.detach())
        return F.cross_entropy(logits, y, ignore_index=-1, reduction="sum") / (y >= 0).sum().clamp(
            min=1
        )

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        terms, invariant = self.ssl_terms(x, self.step_draws(batch_idx))
        probe_loss = self.probe_loss(invariant, y)
        for name, value in terms.items():
            self.log(f"train/{name}", value, prog_bar=name == "loss", sync_dist=True)
        self.log("train/probe_loss", probe_loss, sync_dist=True)
        return terms["loss"] + probe_loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimizer step, then the EMA target's update.

        Here rather than in ``on_train_batch_end``: Lightning runs the callbacks' hooks (a
        ModelCheckpoint saving every N steps) BEFORE the module's ``on_train_batch_end``, so a
        checkpoint would miss that step's EMA update and a resumed run would drift from an
        uninterrupted one. Runs once per optimizer step (not per accumulated micro-batch).
        """
        super().optimizer_step(*args, **kwargs)
        self.update_target()

    def update_target(self) -> None:
        """BYOL's EMA of the online encoder and projector into the target network."""
        if self.target is None or self.projector is None:  # the target exists with a projector
            return
        momentum = momentum_at(
            self.global_step, self.trainer.estimated_stepping_batches, base=self.ema_momentum
        )
        ema_update_(self.target["encoder"], self.encoder, momentum)
        ema_update_(self.target["projector"], self.projector, momentum)
        self.log("train/ema_momentum", momentum)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save only weights and real buffers, whatever mode each module was left in.

        escnn convolutions cache their expanded filter as buffers (``filter``,
        ``expanded_bias``) when put in eval mode, and keep them when Lightning flips the
        ``training`` flags back after validation without calling ``.train()``. A checkpoint
        holding them does not load strictly into a freshly built model, and they are derived
        from the weights anyway: drop them.
        """
        drop_escnn_caches(self, checkpoint.get("state_dict"))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints written before caches were dropped load too."""
        drop_escnn_caches(self, checkpoint.get("state_dict"))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Invariant embedding ``(B, C)`` of un-augmented images (probes, kNN, evaluation)."""
        return self.encoder.invariant(self.encoder(x))

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of un-augmented images, whose accuracy validation and test log as
        ``<stage>/<accuracy_name>``: the online probe's here, the linear head's in LinearEval."""
        return self.probe(self.embed(x))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.val_acc.update(self.class_scores(x), y)
        self.log(f"val/{self.accuracy_name}", self.val_acc, prog_bar=True)

    def test_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        x, y = batch
        name = ("test", "test_rotated")[dataloader_idx]
        metric = cast(MulticlassAccuracy, self.test_accs[name])  # a ModuleDict of accuracies
        metric.update(self.class_scores(x), y)
        self.log(f"{name}/{self.accuracy_name}", metric, add_dataloader_idx=False)

    def predict_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        return self.embed(batch[0])

    # ----------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> Any:
        spec = self.optimizer_spec
        global_batch = self._global_batch_size()
        lr = scaled_lr(spec.lr, global_batch, rule=spec.lr_scaling) if global_batch else spec.lr
        main = self.trainable_parameters()
        # named groups: LearningRateMonitor logs lr-<Optimizer>/encoder and lr-<Optimizer>/probe
        probe = {
            "params": list(self.probe.parameters()),
            "lr": spec.probe_lr,
            "weight_decay": 0.0,
            "lars_exclude": True,
            "name": "probe",
        }
        groups = ([{"params": main, "lr": lr, "name": "encoder"}] if main else []) + [probe]
        optimizer = build_optimizer(
            groups,
            spec.name,
            lr=lr,
            weight_decay=spec.weight_decay,
            momentum=spec.momentum,
            implementation=spec.implementation,
        )
        estimated = self.trainer.estimated_stepping_batches
        if estimated == float("inf"):
            raise ValueError(
                "the warm-up + cosine schedule needs a finite run: set trainer.max_epochs or trainer.max_steps"
            )
        total = max(1, int(estimated))
        steps_per_epoch = max(
            1, self.trainer.num_training_batches // max(1, self.trainer.accumulate_grad_batches)
        )
        warmup = int(round(spec.warmup_epochs * steps_per_epoch))
        schedules = ([warmup_cosine_lambda(warmup, total)] if main else []) + [constant_lr]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedules)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters of the main optimizer group (everything but the probe and EMA target)."""
        return [
            p
            for name, p in self.named_parameters()
            if p.requires_grad and not name.startswith("probe.")
        ]

    def _global_batch_size(self) -> int | None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "batch_size"):
            return None
        return (
            int(datamodule.batch_size)
            * self.trainer.world_size
            * self.trainer.accumulate_grad_batches
        )
