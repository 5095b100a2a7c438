"""Resume is resume: a checkpoint never changes the experiment the user asked for.

LightningCLI copies the hyperparameters of ``--ckpt_path FILE`` over the parsed config, so
``fit --config d4.yaml --ckpt_path c8.ckpt`` used to train C8 without a word. Here the model
settings the config asks for are compared with those the checkpoint was trained with BEFORE
anything is built or merged; any difference in a field that defines the model (objective
class, group, encoder, loss, pair sampling, heads, optimizer...) is refused in one line that
names each field with both values and says the two ways on:

* resume as saved: ``fit --ckpt_path FILE`` without ``--config`` composes the run's own
  ``config.yaml`` (saved beside ``checkpoints/``), see
  [`with_saved_config`][structured_ssl.experiments.resume_checks.with_saved_config];
* start a new run from the weights: ``fit --config ... --init_from FILE`` loads the weights
  into the model the config builds, with a fresh optimizer, schedule and step count
  ([`start_from_weights`][structured_ssl.experiments.resume_checks.start_from_weights]).

Only the fields in `MAY_CHANGE_ON_RESUME` may differ. ``--ckpt_path last`` (a file
found only when training starts) gets the same comparison when Lightning reads the file
([`guard_late_checkpoint`][structured_ssl.experiments.resume_checks.guard_late_checkpoint]).
docs/guides/resume.md documents all of this.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from structured_ssl.config.field_checks import CheckpointError
from structured_ssl.encoders.escnn_state import drop_escnn_caches
from structured_ssl.experiments.checkpoint_shape import check_input_shape, check_model_shape
from structured_ssl.experiments.run_config import saved_fit_config
from structured_ssl.methods.checkpoints import CKPT_PATH_TRUST_HINT, load_checkpoint
from structured_ssl.methods.class_paths import check_class_paths

#: What may differ between a checkpoint and the config that resumes it, and why; every other
#: ``model.*`` field the checkpoint records defines the experiment and must match.
MAY_CHANGE_ON_RESUME: dict[str, str] = {
    "trainer": "how the run is executed: limits (max_epochs, max_steps, limit_*_batches), logging "
    "(logger, log_every_n_steps, callbacks, progress bar), devices, num_nodes, strategy, precision",
    "data": "not recorded in a checkpoint (num_workers, data_dir and download may change; keep the dataset)",
    "seed_everything": "the random states are restored from the checkpoint (ExactResume)",
    "ckpt_path": "the file resumed from",
    "init_from": "only for a new run (refused together with ckpt_path)",
    "model.init_args.in_channels": "linked from the data module",
    "model.init_args.image_size": "linked from the data module",
    "model.init_args.num_classes": "linked from the data module",
    "model.init_args.checkpoint": "offline evaluation: the encoder's weights come from ckpt_path itself",
    "model.init_args.trust_checkpoint": "never recorded: each reader of a file decides trust anew",
}
#: subcommands that read ``--ckpt_path``
CKPT_SUBCOMMANDS = ("fit", "validate", "test", "predict")
_NOT_RECORDED = ("_instantiator",)


def may_change(key: str) -> bool:
    return any(key == name or key.startswith(name + ".") for name in MAY_CHANGE_ON_RESUME)


# --------------------------------------------------------------------------- flat settings
def _plain(value: Any) -> Any:
    """Settings as plain comparable values: dataclasses as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "as_dict"):
        return _plain(value.as_dict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__class__") and type(value).__module__.startswith(
        "structured_ssl.ssl.losses"
    ):
        return {"class_path": f"{type(value).__module__}.{type(value).__qualname__}"}
    return value


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}", out)
    else:
        out[prefix] = value
    return out


def model_settings_of_config(model: Any) -> dict[str, Any]:
    """``model.class_path`` and ``model.init_args.*`` of a parsed config's model node."""
    node = _plain(model) or {}
    flat = {"model.class_path": node.get("class_path")}
    return _flatten(node.get("init_args") or {}, "model.init_args", flat)


def model_settings_of_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """The same flat form for a checkpoint's ``hyper_parameters`` (as LightningCLI saves them)."""
    plain = {k: v for k, v in _plain(dict(hparams)).items() if k not in _NOT_RECORDED}
    flat = {"model.class_path": plain.pop("_class_path", None)}
    return _flatten(plain, "model.init_args", flat)


def differences(config_model: dict[str, Any], saved: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, config value, checkpoint value) of every model-defining field that differs.
    A field only one side knows (a setting added since) is not compared."""
    found = []
    for key in config_model.keys() & saved.keys():
        if may_change(key) or config_model[key] == saved[key]:
            continue
        if key == "model.class_path" and (config_model[key] is None or saved[key] is None):
            continue  # a checkpoint written from Python records no class path
        found.append((key, config_model[key], saved[key]))
    return sorted(found, key=lambda d: (d[0] != "model.class_path", d[0]))


def refusal(
    path: str, diffs: list[tuple[str, Any, Any]], subcommand: str = "fit"
) -> CheckpointError:
    """The one line: each differing field with both values, and the two ways on."""
    listed = "; ".join(
        f"{key}: {mine!r} in the config, {theirs!r} in the checkpoint"
        for key, mine, theirs in diffs
    )
    if subcommand == "check":
        return CheckpointError(
            f"ckpt_path={path!r} was trained with different model settings than the config asks for "
            f"({listed}); check it with the config it was trained with (its run's config.yaml)"
        )
    fresh = (
        "; to start a new run from its weights with this config, pass --init_from instead of --ckpt_path"
        if subcommand == "fit"
        else ""
    )
    return CheckpointError(
        f"ckpt_path={path!r} was trained with different model settings than the config asks for ({listed}); "
        f"a checkpoint never overrides the config: to resume as saved, pass --ckpt_path without --config and "
        f"model flags (the run's config.yaml is used){fresh}"
    )


# --------------------------------------------------------------------------- before the build
def read_checkpoint(path: str, field: str = "ckpt_path") -> dict[str, Any]:
    """The whole checkpoint, read with the allow-list (every tensor, so a truncated archive or
    a corrupt record fails here in one line, not in the trainer)."""
    try:
        saved = load_checkpoint(path, trust_hint=CKPT_PATH_TRUST_HINT)
    except FileNotFoundError:
        raise CheckpointError(f"{field}={path!r} does not exist") from None
    except CheckpointError as error:
        raise CheckpointError(f"{field}={error}") from None
    if not isinstance(saved, dict) or "state_dict" not in saved:
        raise CheckpointError(
            f"{field}={path!r} is not a Lightning checkpoint (it holds no 'state_dict')"
        )
    return saved


def check_against_config(
    path: str, model: Any, subcommand: str, trusted: bool = False
) -> dict[str, Any]:
    """Read ``path`` (complete, allow-listed), check its class paths BEFORE any import, then
    refuse if its model settings differ from the config's ``model`` node. Returns the checkpoint
    (empty when ``trusted`` and the allow-list refuses it: Lightning then reads it fully and
    merges nothing, so the config's model is built)."""
    try:
        saved = read_checkpoint(path)
    except CheckpointError:
        if trusted:
            return {}
        raise
    hparams = saved.get("hyper_parameters") or {}
    check_class_paths(hparams, path)
    if model is not None and hparams:
        diffs = differences(model_settings_of_config(model), model_settings_of_hparams(hparams))
        if diffs:
            raise refusal(path, diffs, subcommand)
    return saved


def guard_resume(cli: Any, merge: Callable[[], None]) -> None:
    """``StructuredSSLCLI._parse_ckpt_path``: check ``--ckpt_path FILE`` against the config and
    ``--init_from``, then let Lightning merge (the merge can then change no model setting)."""
    subcommand = cli.config.get("subcommand")
    stage = cli.config.get(subcommand) if subcommand else None
    if stage is None:  # no subcommand's settings: nothing to compare
        merge()
        return
    path = stage.get("ckpt_path")
    if path and stage.get("init_from"):
        raise CheckpointError(
            f"ckpt_path={str(path)!r} and init_from={str(stage.get('init_from'))!r} are both set: ckpt_path "
            "resumes a run (weights, optimizer, step), init_from starts a new one from weights; give one"
        )
    if path and Path(str(path)).is_file():
        saved = check_against_config(
            str(path), stage.get("model"), subcommand, trusted=stage.get("weights_only") is False
        )
        check_input_shape("ckpt_path", str(path), saved.get("hyper_parameters") or {}, stage)
        if subcommand == "fit":
            refuse_nothing_to_train(str(path), saved, stage.get("trainer"))
    init_from = stage.get("init_from")
    if init_from:
        hparams = check_init_from(str(init_from), stage.get("model"))
        check_input_shape("init_from", str(init_from), hparams, stage)
    merge()


#: the settings that decide the encoder's weights: ``--init_from`` needs these to match
ENCODER_DEFINING = ("model.init_args.group.", "model.init_args.encoder.")


def check_init_from(path: str, model: Any) -> dict[str, Any]:
    """``--init_from FILE`` before the build: a complete, allow-listed checkpoint whose encoder
    was built from the same group and encoder settings (objective, loss, pairs may differ)."""
    if not Path(path).is_file():
        raise CheckpointError(
            f"init_from={path!r} {'is a folder' if Path(path).is_dir() else 'does not exist'}: expected a .ckpt file"
        )
    saved = read_checkpoint(path, "init_from").get("hyper_parameters") or {}
    check_class_paths(saved, path)
    diffs = [
        d
        for d in differences(model_settings_of_config(model), model_settings_of_hparams(saved))
        if d[0].startswith(ENCODER_DEFINING)
    ]
    if diffs:
        listed = "; ".join(
            f"{key}: {mine!r} in the config, {theirs!r} in the checkpoint"
            for key, mine, theirs in diffs
        )
        raise CheckpointError(
            f"init_from={path!r} holds an encoder built with other settings ({listed}): its weights cannot "
            "fit the encoder this config builds; use a checkpoint of the same group and encoder"
        )
    return dict(saved)


def with_saved_config(argv: list[str]) -> list[str]:
    """``fit --ckpt_path FILE`` with no ``--config``: resume as saved, composing the run's
    ``config.yaml`` (``<version>/config.yaml`` beside ``<version>/checkpoints/FILE``), or the
    newest ``config-resume[-N].yaml`` its resumes saved
    ([`saved_fit_config`][structured_ssl.experiments.run_config.saved_fit_config])."""
    if (
        not argv
        or argv[0] not in CKPT_SUBCOMMANDS
        or any(a == "--config" or a.startswith("--config=") for a in argv)
    ):
        return argv
    path = _option(argv, "--ckpt_path")
    if path is None or not Path(path).is_file():
        return argv
    saved = saved_fit_config(Path(path).resolve().parent.parent)
    if not saved.is_file():
        raise CheckpointError(
            f"ckpt_path={path!r} given without --config, and no config.yaml was saved beside it ({saved}): "
            "pass the --config files the run was trained with"
        )
    return [argv[0], "--config", str(saved), "--init_from=null", *argv[1:]]


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def refuse_nothing_to_train(path: str, checkpoint: Mapping[str, Any], trainer: Any) -> None:
    """A resume whose ``max_epochs`` / ``max_steps`` the checkpoint has already reached would
    train nothing and exit 0 (Lightning says only "max_epochs reached"): refuse it, saying how far
    the checkpoint got and what to pass instead."""
    if not checkpoint or not hasattr(trainer, "get"):
        return
    progress = (checkpoint.get("loops") or {}).get("fit_loop", {}).get("epoch_progress", {})
    epochs = (progress.get("current") or {}).get("processed")  # an epoch-end save counts its epoch
    step = checkpoint.get("global_step")
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    done = f"{epochs} epoch(s), global step {step}"
    if isinstance(epochs, int) and isinstance(max_epochs, int) and 0 <= max_epochs <= epochs:
        raise CheckpointError(
            f"trainer.max_epochs={max_epochs} is not above the {epochs} epoch(s) ckpt_path={path!r} has already "
            f"trained ({done}): resuming would train nothing; expected --trainer.max_epochs above {epochs} "
            f"(e.g. {epochs + 1}) to continue it"
        )
    if isinstance(step, int) and isinstance(max_steps, int) and 0 <= max_steps <= step:
        raise CheckpointError(
            f"trainer.max_steps={max_steps} is not above the global step {step} ckpt_path={path!r} has already "
            f"reached ({done}): resuming would train nothing; expected --trainer.max_steps above {step}, or -1"
        )


def refuse_finished_last(config: Any) -> None:
    """``fit --ckpt_path last`` into a run that has already trained its epochs: refused before the
    build, reading the ``last*.ckpt`` Lightning would pick (the newest in the run's version
    folder, chosen by
    [`reuse_run_directory_on_resume`][structured_ssl.experiments.trainer_setup.reuse_run_directory_on_resume]),
    so that not even the resume's config is written. Other layouts are checked when Lightning reads
    the file
    ([`guard_late_checkpoint`][structured_ssl.experiments.resume_checks.guard_late_checkpoint])."""
    logger = config.trainer.get("logger")
    init_args: Any = logger.get("init_args") if hasattr(logger, "get") else None
    if config.get("ckpt_path") != "last" or init_args is None or not hasattr(init_args, "get"):
        return
    if init_args.get("version") is None or init_args.get("save_dir") is None:
        return
    version = init_args["version"]
    folder = Path(str(init_args["save_dir"])) / str(init_args.get("name") or "lightning_logs")
    folder = (
        folder / (version if isinstance(version, str) else f"version_{version}") / "checkpoints"
    )
    found = sorted(folder.glob("last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if found:
        refuse_nothing_to_train(str(found[-1]), read_checkpoint(str(found[-1])), config.trainer)


# --------------------------------------------------------------------------- after the build
def guard_late_checkpoint(model: Any, subcommand: str) -> None:
    """``--ckpt_path last`` (or best/hpc) names a file only when the trainer looks: compare it
    when Lightning reads it, before its weights are loaded (the model hook runs first)."""
    original = model.on_load_checkpoint

    def on_load_checkpoint(checkpoint: dict[str, Any]) -> None:
        hparams = checkpoint.get("hyper_parameters") or {}
        mine = model_settings_of_hparams(getattr(model, "hparams", {}) or {})
        diffs = differences(mine, model_settings_of_hparams(hparams))
        trainer = getattr(model, "trainer", None)
        path = str(getattr(trainer, "ckpt_path", None) or "last")
        if diffs:
            raise refusal(path, diffs, subcommand)
        check_model_shape(path, getattr(model, "hparams", {}) or {}, hparams)
        if subcommand == "fit" and trainer is not None:
            limits = {"max_epochs": trainer.max_epochs, "max_steps": trainer.max_steps}
            refuse_nothing_to_train(path, checkpoint, limits)
        original(checkpoint)

    model.on_load_checkpoint = on_load_checkpoint


def start_from_weights(model: Any, path: str | None) -> None:
    """``--init_from FILE``: the checkpoint's weights in the model the config built, nothing
    else (fresh optimizer, schedule, step). The encoder must fit exactly; heads load where
    names and shapes match; a momentum target starts as a copy of the loaded online network."""
    if not path:
        return

    saved = read_checkpoint(str(path), "init_from")
    check_class_paths(saved.get("hyper_parameters") or {}, str(path))
    state = dict(saved["state_dict"])
    drop_escnn_caches(model, state)
    own = model.state_dict()
    wrong = [
        k
        for k in own
        if k.startswith("encoder.") and (k not in state or state[k].shape != own[k].shape)
    ]
    extra = [k for k in state if k.startswith("encoder.") and k not in own]
    if wrong or extra:
        raise CheckpointError(
            f"init_from={str(path)!r}: its encoder does not fit the one this config builds (missing or "
            f"reshaped: {', '.join(wrong[:3]) or 'none'}; unexpected: {', '.join(extra[:3]) or 'none'}); "
            "use a checkpoint of the same group, encoder and image channels"
        )
    fitting = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(fitting, strict=False)
    target = getattr(model, "target", None)
    if target is not None and not any(k.startswith("target.") for k in fitting):
        target["encoder"].load_state_dict(model.encoder.state_dict())
        if getattr(model, "projector", None) is not None:
            target["projector"].load_state_dict(model.projector.state_dict())
    print(
        f"init_from: {len(fitting)} of {len(own)} tensors loaded from {path}; a new run starts",
        file=sys.stderr,
    )


def add_init_from_argument(parser: Any) -> None:
    """The ``--init_from FILE`` option of every subcommand (used by ``fit``)."""
    parser.add_argument(
        "--init_from", type=str | None, default=None,
        help="start a NEW run from the weights of this checkpoint (the config decides the model; "
        "fresh optimizer and step count). To continue a run, use --ckpt_path.",
    )  # fmt: skip
