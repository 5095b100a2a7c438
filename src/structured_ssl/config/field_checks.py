"""Rules for single settings, as a table: each names its field, what is allowed, and a test.

These are the checks that need one value and nothing built: ranges of numbers the parser
accepts by type (``trainer.max_epochs=-5``, ``optimizer.lr=-0.1``), files that must exist
(``ckpt_path``, ``data.data_dir``), an accelerator that must be present. Without them the same
mistakes end in a Lightning or optimizer traceback after the model and data are built.
A new rule is one more [`FieldRule`][structured_ssl.config.field_checks.FieldRule] row (or one more
function in `CONTEXT_RULES` when it needs several values);
[`check_fields`][structured_ssl.config.field_checks.check_fields] runs them all from
``check_config``.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# a checkpoint is a zip archive (torch >= 1.6) or a legacy pickle (protocol byte 0x80)
CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")
CKPT_PATH_WORDS = ("last", "best", "hpc")
# how this project's own checks begin their messages: the field, then "=value" or " must"
SETTING_MESSAGE = re.compile(
    r"^(ckpt_path|(data|model|trainer|pairs|group|encoder|loss|optimizer)\.[\w.]+)(=| must)"
)


class ConfigError(ValueError):
    """A setting that cannot work; the message names the field, its value and what is allowed."""


class CheckpointError(ValueError):
    """A checkpoint that is refused (it needs types outside the allow-list) or unreadable.

    Defined here, with the other kinds of bad input, so that the config layer can recognise it
    ([`input_error_in`][structured_ssl.config.cli_errors.input_error_in]) without importing the
    methods."""


def import_class(class_path: str) -> Any:
    """The object a ``class_path`` names, or None (the parser reports unknown classes itself)."""
    import importlib

    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def init_parameters(cls: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The arguments a class takes, as the CLI offers them: its constructor's own and, for a
    class that forwards its ``**kwargs`` up (it states the ``filled_arguments`` it passes itself,
    as the data modules do), those of the constructors up its MRO that ``**kwargs`` reach, less
    the filled ones: the ``super().__init__(x=..., **kwargs)`` calls the CLI's parser follows.
    A name a subclass takes itself wins (its default, its type). Other classes (a logger's
    ``**kwargs`` reach a SummaryWriter) read as their own signature."""
    forwards = hasattr(cls, "filled_arguments")
    owners = [k for k in getattr(cls, "__mro__", ()) if "__init__" in vars(k) and k is not object]
    found: dict[str, inspect.Parameter] = {}
    filled: set[str] = set()
    for index, owner in enumerate(owners or [cls]):
        parameters = inspect.signature(cls if index == 0 else owner).parameters.values()
        for parameter in parameters:
            if parameter.name not in filled and (parameter.kind not in _VARIADIC or not forwards):
                found.setdefault(parameter.name, parameter)
        if not forwards or all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
        filled.update(vars(owner).get("filled_arguments", ()))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive(value: Any) -> bool:
    return _number(value) and value > 0


def non_negative(value: Any) -> bool:
    return _number(value) and value >= 0


def at_least(bound: int) -> Callable[[Any], bool]:
    return lambda value: _number(value) and value >= bound


def in_range(low: float, high: float, high_open: bool = False) -> Callable[[Any], bool]:
    return lambda value: (
        _number(value) and low <= value and (value < high if high_open else value <= high)
    )


MAX_SEED = 2**32 - 1
SEED_RANGE = f"an integer from 0 to {MAX_SEED}"
SEED_ALLOWED = f"{SEED_RANGE}, true for a random seed, or false for none"
MAX_IMAGE_SIDE = 2048
IMAGE_SIDE_ALLOWED = f"an image side of at most {MAX_IMAGE_SIDE} pixels"


def image_side(value: Any) -> bool:
    """Only the upper bound: the data module's own check names what a side must hold below."""
    return not (_number(value) and value > MAX_IMAGE_SIDE)


@dataclass(frozen=True)
class FieldRule:
    """``key`` is the dotted path as the config spells it; None values (unset) always pass."""

    key: str
    ok: Callable[[Any], bool]
    allowed: str


FIELD_RULES: tuple[FieldRule, ...] = (
    FieldRule("trainer.max_epochs", at_least(-1), "an integer >= 0, or -1 for no limit"),
    FieldRule("trainer.max_steps", at_least(-1), "an integer >= 0, or -1 for no limit"),
    FieldRule("trainer.min_epochs", at_least(0), "an integer >= 0"),
    FieldRule("trainer.num_nodes", at_least(1), "an integer >= 1"),
    FieldRule("trainer.accumulate_grad_batches", at_least(1), "an integer >= 1"),
    FieldRule("trainer.log_every_n_steps", at_least(1), "an integer >= 1"),
    FieldRule("trainer.check_val_every_n_epoch", at_least(1), "an integer >= 1, or null"),
    FieldRule("trainer.gradient_clip_val", non_negative, "a number >= 0, or null"),
    FieldRule("model.init_args.optimizer.lr", positive, "a finite number > 0"),
    FieldRule("model.init_args.optimizer.probe_lr", positive, "a finite number > 0"),
    FieldRule("model.init_args.optimizer.weight_decay", non_negative, "a finite number >= 0"),
    FieldRule(
        "model.init_args.optimizer.momentum", in_range(0, 1, high_open=True), "a number in [0, 1)"
    ),
    FieldRule("model.init_args.optimizer.warmup_epochs", non_negative, "a number of epochs >= 0"),
    FieldRule("model.init_args.ema_momentum", in_range(0, 1), "a number in [0, 1]"),
    FieldRule("model.init_args.loss.init_args.temperature", positive, "a finite number > 0"),
    FieldRule("data.init_args.num_workers", at_least(0), "an integer >= 0"),
    # numpy's generators take seeds in [0, 2^32): Lightning refuses others only after parsing,
    # as a traceback (found by the config fuzz test)
    # (LightningCLI's seed_everything also takes true: a random seed, false: no seeding)
    FieldRule(
        "seed_everything",
        lambda v: isinstance(v, bool) or in_range(0, MAX_SEED)(v),
        SEED_ALLOWED,
    ),
    FieldRule("data.init_args.seed", in_range(0, MAX_SEED), SEED_RANGE),
    # image sides: the pair table and padded canvases grow with side^2 (side 100001 asked for
    # 40 GB inside the model build); 2048 holds any image this library is meant to pretrain on
    FieldRule("data.init_args.image_size", image_side, IMAGE_SIDE_ALLOWED),
    FieldRule("data.init_args.digit_size", image_side, IMAGE_SIDE_ALLOWED),
    FieldRule("model.init_args.image_size", image_side, IMAGE_SIDE_ALLOWED),
)


def lookup(config: Any, key: str) -> Any:
    """The value at a dotted path of a parsed config (Namespace, dict or object); None if unset."""
    node = config
    for part in key.split("."):
        if node is None:
            return None
        if isinstance(node, Mapping) or hasattr(node, "get"):
            node = node.get(part)
        else:
            node = getattr(node, part, None)
    return node


def check_rules(config: Any, rules: tuple[FieldRule, ...] = FIELD_RULES) -> None:
    for rule in rules:
        value = lookup(config, rule.key)
        if value is not None and not rule.ok(value):
            raise ConfigError(f"{rule.key}={value!r} is not allowed: expected {rule.allowed}")


# --------------------------------------------------------------------------- rules on several values
def check_ckpt_path(config: Any) -> None:
    """A checkpoint to resume from must exist, be readable and be a checkpoint (not, say, YAML)."""
    value = lookup(config, "ckpt_path")
    if value is None or str(value) in CKPT_PATH_WORDS or str(value).startswith("registry"):
        return
    path = Path(str(value))
    allowed = f"the path of a .ckpt file, or one of {', '.join(CKPT_PATH_WORDS)}"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"ckpt_path={str(value)!r} {what}: expected {allowed}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as error:
        raise ConfigError(
            f"ckpt_path={str(value)!r} cannot be read ({error.strerror}): expected {allowed}"
        ) from None
    if not head.startswith(CHECKPOINT_MAGIC):
        raise ConfigError(
            f"ckpt_path={str(value)!r} is not a PyTorch checkpoint (neither a zip archive nor a pickle): "
            f"expected {allowed}"
        )


def check_accelerator(config: Any) -> None:
    """An accelerator asked for by name must be present here (``auto`` picks what there is)."""
    import torch

    accelerator = str(lookup(config, "trainer.accelerator") or "auto").lower()
    present = {"cpu": True, "gpu": torch.cuda.is_available(), "cuda": torch.cuda.is_available()}
    mps = getattr(torch.backends, "mps", None)
    present["mps"] = bool(mps and mps.is_available())
    if accelerator in present and not present[accelerator]:
        here = ", ".join(["auto", *(name for name, there in present.items() if there)])
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} is not available on this machine: expected one of {here}"
        )
    devices = lookup(config, "trainer.devices")
    if isinstance(devices, str) and re.fullmatch(r"-?\d+", devices.strip()):
        devices = int(devices)
    if isinstance(devices, int) and not isinstance(devices, bool) and devices < 1 and devices != -1:
        raise ConfigError(
            f"trainer.devices={devices} is not allowed: expected an integer >= 1, -1 (all), a list of ids, or auto"
        )
    if isinstance(devices, int) and not isinstance(devices, bool) and devices > 1:
        check_device_count(accelerator, devices, present)


def check_device_count(accelerator: str, devices: int, present: dict[str, bool]) -> None:
    """More devices than this machine has: on GPUs Lightning refuses late, on CPU it would start
    that many processes (``devices=1000000`` hung the machine instead of failing)."""
    import torch

    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and present["cuda"])
    if on_gpu:
        have, what = torch.cuda.device_count(), "GPUs here"
    elif accelerator in ("cpu", "auto") and not present["mps"]:
        have, what = os.cpu_count() or 1, "CPU cores here, one process each"
    else:
        return
    if devices > have:
        raise ConfigError(
            f"trainer.devices={devices} is more than this machine has: expected 1 to {have} "
            f"({what}), -1 for all, or auto"
        )


def check_data_files(config: Any) -> None:
    """A file-based dataset's directory must exist unless it may download into it."""
    cls = import_class(str(lookup(config, "data.class_path") or ""))
    if not isinstance(cls, type) or not getattr(cls, "needs_files", False):
        return
    defaults = {n: p.default for n, p in init_parameters(cls).items()}
    download = lookup(config, "data.init_args.download")
    data_dir = lookup(config, "data.init_args.data_dir") or defaults.get("data_dir")
    if (download if download is not None else defaults.get("download", False)) or data_dir is None:
        return
    if Path(os.fspath(data_dir)).is_file():
        raise ConfigError(
            f"data.data_dir={str(data_dir)!r} is a file, expected a folder holding the {cls.__name__} files"
        )
    if not Path(os.fspath(data_dir)).is_dir():
        raise ConfigError(
            f"data.data_dir={str(data_dir)!r} does not exist; expected a directory holding the "
            f"{cls.__name__} files (create it, point data_dir at it, or set data.download=true)"
        )


def check_data_arguments(config: Any) -> None:
    """The data module's own argument checks (e.g. image_size vs digit_size), run on a trial
    instance before the seed is set and before the model is built (a DataModule's
    ``__init__`` only stores its settings; data is read in ``setup``)."""
    cls = import_class(str(lookup(config, "data.class_path") or ""))
    init_args = lookup(config, "data.init_args")
    if not isinstance(cls, type) or init_args is None:
        return
    kwargs = dict(init_args.as_dict() if hasattr(init_args, "as_dict") else init_args)
    try:
        cls(**kwargs)
    except (ValueError, TypeError) as error:
        if not SETTING_MESSAGE.match(str(error)):
            raise
        raise ConfigError(str(error)) from None


def check_no_null_where_a_value_is_needed(config: Any) -> None:
    """``--model.init_args.max_shift_fraction=null``: the parser lets a null through to a
    setting typed ``float``, and it fails deep inside the class as a TypeError."""
    for node in ("data", "model"):
        cls = import_class(str(lookup(config, f"{node}.class_path") or ""))
        init_args = lookup(config, f"{node}.init_args")
        if not isinstance(cls, type) or init_args is None:
            continue
        given = init_args.as_dict() if hasattr(init_args, "as_dict") else dict(init_args)
        for name, parameter in init_parameters(cls).items():
            annotation = parameter.annotation
            if given.get(name, ...) is not None or annotation is inspect.Parameter.empty:
                continue
            text = annotation if isinstance(annotation, str) else repr(annotation)
            if not any(word in text for word in ("None", "Optional", "Any")):
                raise ConfigError(
                    f"{node}.init_args.{name}=None is not allowed: expected a value of type "
                    f"{text} (this setting has no 'unset')"
                )


CONTEXT_RULES: tuple[Callable[[Any], None], ...] = (
    check_no_null_where_a_value_is_needed,
    check_ckpt_path,
    check_accelerator,
    check_data_files,
)


def check_fields(config: Any) -> None:
    """Every single-value rule, then the rules that read several values."""
    check_rules(config)
    for rule in CONTEXT_RULES:
        rule(config)
