"""jsonargparse's parse errors, reduced to ONE line: the field, the value, what is allowed.

jsonargparse reports a bad value inside a ``class_path`` block as a nested dump of every
Union alternative it tried ("Expected a <class 'NoneType'>", "Given value: NestedArg(...)"),
which hides the one fact a user needs. [`one_line`][structured_ssl.config.cli_errors.one_line] walks
that dump: the ``Parser key`` lines and ``class_path`` problems give the full dotted field
(``model.init_args.group.kind``), the innermost error gives the value and what was expected. Hints
are added only where they follow from the error itself (a close spelling, the classes that exist for
that base class).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from structured_ssl.config.field_checks import SETTING_MESSAGE as _OWN_MESSAGE
from structured_ssl.config.field_checks import import_class, init_parameters
from structured_ssl.data.download import DatasetFormatError, DatasetNotFoundError
from structured_ssl.lifted.contract import EncoderContractError

_KEY = re.compile(r'Parser key "([^"]+)":\s*(.*)')
_CLASS = re.compile(r"Problem with given class_path '([^']+)':")
_SUBTYPES = re.compile(r"Subtypes: \[<class '([\w.]+)'>")
_EXPECTED = re.compile(r"Expected a (.+?)(?:\. Got value: (.*))?$")
_GIVEN = re.compile(r"Given value: (.*)")
_NESTED = re.compile(r"NestedArg\(key='([^']*)', val=(.*)\)$")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: --?([\w.\-]+)(?:=(\S*))?")
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_MISSING_CLASS = re.compile(r"(?:module '[\w.]+' has no attribute '\w+'|No module named '[\w.]+')")
_FILE_MISSING = re.compile(r"File does not exist: '?([^']+)'?")
_SKIP = ("Does not validate", "Subtypes:", "Errors:", "Given value type:", "Expected a path but")
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "NoneType": "null",
}


@dataclass
class _Parsed:
    keys: list[tuple[int, str]] = field(default_factory=list)  # (indent, part) of the field
    classes: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    value: str | None = None
    leaf: str | None = None

    @property
    def depth(self) -> int:
        return self.keys[-1][0] if self.keys else -1

    @property
    def key(self) -> str:
        return ".".join(part for _, part in self.keys)


def _without_unmeant_module(message: str) -> str:
    """Drop the ``torch.nn.Module`` alternative of a union (``encoder``: settings, or a module of
    yours) where it only says that a setting is no module option: the user meant the settings."""
    lines, out, skip_below = message.splitlines(), [], None
    for i, raw in enumerate(lines):
        indent = len(raw) - len(raw.lstrip())
        if skip_below is not None and indent > skip_below:
            continue
        skip_below = None
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "given class_path 'torch.nn.Module'" in raw and "is not accepted" in nxt:
            skip_below = indent
            continue
        out.append(raw)
    return "\n".join(out)


def _parse(message: str) -> _Parsed:
    parsed = _Parsed()
    for raw in _without_unmeant_module(message).splitlines():
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip().removeprefix("- ").strip()
        if not line:
            continue
        if match := _KEY.match(line):
            parsed.keys.append((indent, match.group(1)))
            parsed.expected, parsed.value = [], None
            if match.group(2) and parsed.leaf is None:
                parsed.leaf = match.group(2)
            continue
        if match := _CLASS.match(line):
            parsed.classes.append(match.group(1))
            if not dataclasses.is_dataclass(
                import_class(match.group(1))
            ):  # settings take no init_args
                parsed.keys.append((indent, "init_args"))
            continue
        if match := _SUBTYPES.match(line):
            parsed.bases.append(match.group(1))
            continue
        if line.startswith(_SKIP) or indent <= parsed.depth:
            continue  # an outer alternative (e.g. "Optional: Expected None") or bookkeeping
        if match := _GIVEN.match(line):
            nested = _NESTED.match(match.group(1))
            parsed.value = parsed.value or (
                nested.group(2).strip("'") if nested else match.group(1)
            )
        elif match := _EXPECTED.match(line):
            parsed.expected.append(match.group(1))
            if match.group(2) is not None:
                parsed.value = match.group(2)
        elif parsed.leaf is None:
            parsed.leaf = line
    return parsed


def _words(type_text: str) -> list[str]:
    """``typing.Literal['a', 'b']`` -> ["'a'", "'b'"]; ``<class 'int'>`` -> ["an integer"]."""
    if type_text.startswith("typing.Literal["):
        return [v.strip() for v in type_text[len("typing.Literal[") : -1].split(",")]
    match = re.fullmatch(r"<class '([\w.]+)'>", type_text)
    name = match.group(1).rsplit(".", 1)[-1] if match else type_text
    return [_TYPE_WORDS.get(name, name)]


def _did_you_mean(given: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(given, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def known_subclasses(base_path: str) -> list[str]:
    """The classes a ``class_path`` of this base may name: those its package exports."""
    base = import_class(base_path)
    if not isinstance(base, type):
        return []
    module = importlib.import_module(base.__module__)
    if not hasattr(module, "__all__"):  # a class of a package's submodule: what the package exports
        module = importlib.import_module(base.__module__.rsplit(".", 1)[0])
    found = [getattr(module, n, None) for n in getattr(module, "__all__", [])]
    return [
        f"{module.__name__}.{c.__name__}"
        for c in found
        if isinstance(c, type) and issubclass(c, base) and c is not base
    ]


def accepted_keys(class_path: str | None, nested: list[str]) -> list[str]:
    """What a class (or one of its dataclass arguments, ``nested``) accepts as keys."""
    target: Any = import_class(class_path) if class_path else None
    if target is None:
        return []
    for part in nested:
        try:
            hints = typing.get_type_hints(
                target.__init__ if not dataclasses.is_dataclass(target) else target
            )
        except Exception:  # noqa: BLE001 - unresolvable annotations: no suggestion
            return []
        hint = hints.get(part)
        options: list[Any] = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)] or [
            hint
        ]
        if not dataclasses.is_dataclass(options[0]):
            return []
        target = options[0]
    if dataclasses.is_dataclass(target):
        return [f.name for f in dataclasses.fields(target)]
    return [p for p in init_parameters(target) if p not in ("self", "args", "kwargs")]


def _unknown_key(parsed: _Parsed, name: str, value: str | None) -> str:
    full = f"{parsed.key}.{name}" if parsed.key else name
    owner = parsed.classes[-1] if parsed.classes else None
    if owner is None and full.startswith("trainer."):
        owner, name = "lightning.pytorch.Trainer", full.removeprefix("trainer.")
    parts = name.split(".")
    unknown, keys, where = parts[0], [], ""
    for i, part in enumerate(parts):  # the first part the class (or its dataclass) does not take
        keys = accepted_keys(owner, parts[:i])
        if part not in keys:
            unknown, where = part, ".".join([owner.rsplit(".", 1)[-1], *parts[:i]]) if owner else ""
            break
    shown = f"{full}={value}" if value is not None else full
    if len(keys) > 12:  # Trainer: name the close one, not forty
        close = _did_you_mean(unknown, keys)
        return (
            f"{shown}: unknown key {unknown!r}; {where} has no such argument{close} "
            "(`structured-ssl fit --help` lists them)"
        )
    if not keys:
        return f"{shown}: unknown key {unknown!r} (`structured-ssl fit --help` lists the keys that exist)"
    return f"{shown}: unknown key {unknown!r}; {where} accepts {', '.join(keys)}{_did_you_mean(unknown, keys)}"


def one_line(message: str) -> str:
    """The one line a user sees for a parse or instantiation error (no hint it cannot justify)."""
    parsed = _parse(message)
    leaf = parsed.leaf or ""
    if _OWN_MESSAGE.match(leaf):  # our own checks already name field, value and rule
        return leaf
    if match := _FILE_MISSING.search(leaf):
        return f"{parsed.key or 'config'}={match.group(1)!r}: file does not exist; give the path of a YAML config"
    if match := _UNRECOGNIZED.search(leaf) or _UNRECOGNIZED.search(message):
        return _unknown_key(parsed, match.group(1), match.group(2))
    if match := _NOT_ACCEPTED.search(leaf):
        return _unknown_key(parsed, match.group(1), parsed.value)
    if _MISSING_CLASS.search(leaf) and parsed.classes:
        class_path = parsed.classes[-1]
        key = ".".join(part for _, part in parsed.keys[:-1]) or "class_path"
        known = known_subclasses(parsed.bases[-1]) if parsed.bases else []
        allowed = f"; known classes are {', '.join(known)}" if known else ""
        names = [k.rsplit(".", 1)[-1] for k in known]
        hint = _did_you_mean(class_path.rsplit(".", 1)[-1], names)
        return f"{key}={class_path!r} is not a class that exists{allowed}{hint}"
    if parsed.expected:
        choices = list(dict.fromkeys(w for t in parsed.expected for w in _words(t)))
        value = parsed.value if parsed.value is not None else "?"
        if all(a.startswith("'") for a in choices):
            hint = _did_you_mean(value, [a.strip("'") for a in choices])
            return (
                f"{parsed.key}={value!r} is not allowed: expected one of {', '.join(choices)}{hint}"
            )
        return f"{parsed.key}={value!r} is not allowed: expected {' or '.join(choices)}"
    if leaf:
        return f"{parsed.key}: {leaf}" if parsed.key else leaf
    return " ".join(message.split())


def is_setting_error(message: str) -> bool:
    """Whether an instantiation ValueError is a setting check (ours begin with the field)."""
    leaf = _parse(message).leaf or message.strip()
    return bool(_OWN_MESSAGE.match(leaf))


def input_error_in(error: BaseException) -> BaseException | None:
    """The error about the user's input that caused ``error``, if any: a refused or unreadable
    checkpoint, a setting only checkable once built, a dataset file missing or corrupt (one
    that changed after the checks before the build). jsonargparse and Lightning wrap errors of
    ``__init__`` and hooks; the cause chain still holds ours."""
    from structured_ssl.config.causes import cause_of
    from structured_ssl.config.field_checks import CheckpointError, ConfigError

    kinds = (
        CheckpointError,
        ConfigError,
        DatasetFormatError,
        DatasetNotFoundError,
        EncoderContractError,  # a researcher's own encoder, named by class path
    )
    return cause_of(error, kinds)
