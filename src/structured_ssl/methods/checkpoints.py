"""Reading checkpoints without running their code.

A ``.ckpt`` file is a pickle, and unpickling can call any function its author chose: a
checkpoint downloaded from a stranger and read with ``torch.load(path, weights_only=False)``
runs the stranger's code. Every checkpoint this library reads (offline linear evaluation,
``--ckpt_path`` for resume and test) is therefore read by
[`load_checkpoint`][structured_ssl.methods.checkpoints.load_checkpoint], with torch's
``weights_only`` unpickler: it builds tensors, plain containers and values, and, from the allow-list
[`project_types`][structured_ssl.methods.checkpoints.project_types], only the settings dataclasses
and pair losses that ``save_hyperparameters`` stores when a model is built in Python (CLI-written
checkpoints hold plain dicts). A checkpoint that needs any other type is refused with one line
naming the file and the type; reading it anyway is an explicit choice of a user who trusts the file.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from structured_ssl.config.causes import cause_of
from structured_ssl.config.field_checks import CheckpointError
from structured_ssl.encoders.factory import EncoderSpec
from structured_ssl.groups import Group
from structured_ssl.ssl import losses
from structured_ssl.ssl.pairs import PairSampling

#: how to read a refused checkpoint anyway, when nothing more specific applies
TRUST_HINT = "load it with structured_ssl.methods.checkpoints.load_checkpoint(path, trust=True)"


def project_types() -> list[type]:
    """The project's own types a checkpoint's hyperparameters may hold (the allow-list).

    Each is a frozen settings dataclass or a pair loss (an ``nn.Module`` of a few floats):
    unpickling one only sets its fields; none runs code while being built.
    """
    from structured_ssl.methods.base import OptimizerSpec  # the base imports the optimizers

    pair_losses = [
        cls
        for name in losses.__all__
        if isinstance(cls := getattr(losses, name), type) and issubclass(cls, losses.PairLoss)
    ]
    return [Group, EncoderSpec, PairSampling, OptimizerSpec, *pair_losses]


def old_class_paths() -> list[tuple[type, str]]:
    """(class, path) for classes that checkpoints written before the relayout name at their old
    module path: the allow-list resolves the old path to the class's new home (no shim modules)."""
    moved = [cls for cls in project_types() if cls.__module__.split(".")[1] in ("ssl",)]
    old_modules = {
        "pairs": "structured_ssl.pairs",  # the pre-layers module path, on purpose
        "losses": "structured_ssl.losses",  # the pre-layers module path, on purpose
    }
    return [
        (cls, f"{old_modules[cls.__module__.rsplit('.', 1)[-1]]}.{cls.__name__}")
        for cls in moved
        if cls.__module__.rsplit(".", 1)[-1] in old_modules
    ]


@contextlib.contextmanager
def allowed_project_types() -> Iterator[None]:
    """``torch.load(..., weights_only=True)`` inside this context also accepts
    [`project_types`][structured_ssl.methods.checkpoints.project_types], e.g. around
    ``SomeMethod.load_from_checkpoint(path)``."""
    with torch.serialization.safe_globals([*project_types(), *old_class_paths()]):
        yield


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    trust: bool = False,
    trust_hint: str = TRUST_HINT,
    map_location: Any = "cpu",
) -> Any:
    """The object saved in ``path``, read without running code unless ``trust`` is set.

    Args:
        path: a local checkpoint file.
        trust: read with the full unpickler (``weights_only=False``): ONLY for files you trust.
        trust_hint: how the caller's user sets ``trust`` (put into the refusal message).
        map_location: as for `torch.load`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file needs a type outside the allow-list, or is no checkpoint.
    """
    if trust:
        return torch.load(path, map_location=map_location, weights_only=False)
    with allowed_project_types():
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except FileNotFoundError:
            raise
        except pickle.UnpicklingError as error:
            raise refusal(path, error, trust_hint) from None
        except Exception as error:  # noqa: BLE001 - a parser fed garbage fails in many ways
            first = re.split(r"\.\s|\n", str(error).strip())[0]
            reason = f"{type(error).__name__}: {first}" if first else type(error).__name__
            raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def refusal(path: Any, error: Exception, trust_hint: str) -> CheckpointError:
    """The one-line error for a checkpoint that torch's ``weights_only`` unpickler refused."""
    refused = refused_types(path, error)
    what = f"refused to unpickle {refused}" if refused else f"refused ({torch_reason(error)})"
    return CheckpointError(
        f"{path}: {what}: a checkpoint read here may hold only tensors, plain values and "
        "structured_ssl settings, because unpickling any other object can run code; if you "
        f"trust this file, {trust_hint}"
    )


def refused_types(path: str | os.PathLike[str], error: Exception) -> str | None:
    """The types in ``path`` outside the allow-list (read from the pickle, nothing built), else
    the one torch's refusal names, else None (the file holds no type torch names)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(Path(path))
    except Exception:  # noqa: BLE001 - legacy (non-zip) files: fall back to torch's message
        names = []
    if names:
        return ", ".join(sorted(set(names)))
    found = re.search(r"GLOBAL (\S+)", str(error)) or re.search(
        r"(?:unrecognized function|allowlisted via `add_safe_globals`(?:, but| but)? got) (.+?)(?: which|$)",
        str(error),
        flags=re.MULTILINE,
    )
    return found.group(1).rstrip(".,") if found else None


def torch_reason(error: Exception) -> str:
    """The specific line of torch's refusal, without its generic advice."""
    generic = (
        "Weights only load failed",
        "Please file an issue",
        "Check the documentation",
        "Re-running",
    )
    lines = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and not line.strip().startswith(generic)
    ]
    return lines[0] if lines else type(error).__name__


# ----------------------------------------------------------------------------- LightningCLI
#: model arguments that a checkpoint's hyperparameters may never set: LightningCLI copies the
#: hyperparameters of ``--ckpt_path`` into the config, and a crafted file must not switch on
#: the full unpickler for the next file it names
TRUST_FLAGS = ("trust_checkpoint",)
CKPT_PATH_TRUST_HINT = "pass --weights_only=false (Trainer.fit(..., weights_only=False))"


def merge_ckpt_hparams_safely(cli: Any, merge: Callable[[], None]) -> None:
    """Run LightningCLI's ``_parse_ckpt_path`` (``merge``) with the allow-list, turning its
    refusal into one [`CheckpointError`][structured_ssl.config.field_checks.CheckpointError] line,
    and keep the command line's trust flags.

    With ``--weights_only=false`` a checkpoint that needs more than the allow-list is still
    resumed (Lightning then reads it fully); only its hyperparameters are not merged, so the
    model is the one the config describes.
    """
    subcommand = cli.config.get("subcommand")
    stage = cli.config.get(subcommand) if subcommand else None
    path = stage.get("ckpt_path") if stage is not None else None
    if stage is None or not path or not Path(str(path)).is_file():
        return merge()
    before = {flag: _model_arg(stage, flag) for flag in TRUST_FLAGS}
    with allowed_project_types():
        try:
            merge()
        except pickle.UnpicklingError:
            if stage.get("weights_only") is False:
                return
            load_checkpoint(path, trust_hint=CKPT_PATH_TRUST_HINT)  # raises the one-line error
            raise
        except SystemExit:  # the parser refused them (e.g. a class that is no SSLMethod)
            print(
                f"error: {path}: its hyperparameters do not describe a structured_ssl model",
                file=sys.stderr,
            )
            raise
    stage = cli.config[subcommand]
    for flag, value in before.items():
        model = stage.get("model")
        if model is None or not hasattr(model, "get"):
            continue
        if isinstance(model.get("dict_kwargs"), dict):
            model["dict_kwargs"].pop(flag, None)
        init_args = model.get("init_args")
        if init_args is not None and flag in init_args:
            init_args[flag] = bool(value)


def _model_arg(stage: Any, name: str) -> Any:
    model = stage.get("model")
    init_args = model.get("init_args") if model is not None and hasattr(model, "get") else None
    return init_args.get(name, False) if init_args is not None else False


def checkpoint_error_in(error: BaseException) -> CheckpointError | None:
    """The [`CheckpointError`][structured_ssl.config.field_checks.CheckpointError] that caused
    ``error`` (jsonargparse wraps what a model's ``__init__`` raises), or None."""
    return cause_of(error, CheckpointError)


def follow_checkpoint_dirpath(trainer: Any, ckpt_path: Any) -> None:
    """Before ``validate``/``test``/``predict`` of a checkpoint: each ModelCheckpoint without a
    configured ``dirpath`` keeps the folder its state was saved with.

    Why: these commands save nothing, but Lightning reloads the fit's ModelCheckpoint state
    into callbacks that point at this run's (other) log folder and then warns "the dirpath
    has changed" on every evaluation. Pointing them at the saved folder restores the state
    whole, and nothing is written there.
    """
    from lightning.pytorch.callbacks import ModelCheckpoint

    if not ckpt_path or not Path(str(ckpt_path)).is_file():
        return
    try:
        states = (load_checkpoint(ckpt_path) or {}).get("callbacks") or {}
    except Exception:  # noqa: BLE001 - the restore itself reports an unreadable checkpoint
        return
    for callback in trainer.checkpoint_callbacks:
        state = states.get(getattr(callback, "state_key", None)) or {}
        if (
            isinstance(callback, ModelCheckpoint)
            and callback.dirpath is None
            and state.get("dirpath")
        ):
            callback.dirpath = state["dirpath"]
