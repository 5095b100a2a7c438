"""A ``--config`` file read once, strictly, before jsonargparse reads it: one line per problem.

Why: jsonargparse loads configs with PyYAML, which takes a binary file (a checkpoint passed by
mistake) or a non-UTF-8 file to a traceback, silently keeps the LAST of two equal keys, passes
``${TMPDIR}/runs`` on as a literal folder name, and expands a 384-byte alias bomb into
hundreds of MB (the error line it then printed was 5 MB long).
[`read_yaml_config`][structured_ssl.config.yaml_reading.read_yaml_config] refuses each of these in
one short line naming the file (and line) and what is allowed; jsonargparse then reads only files
that passed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from structured_ssl.config.field_checks import ConfigError

#: most nodes a config may expand to through aliases (``*name``): the shipped configs hold a
#: few hundred; the 384-byte alias bomb expands to about 10**9
MAX_EXPANDED_NODES = 100_000
#: ``${NAME}``, or ``$NAME`` at the start of a path part: the shell's syntax, not expanded here
ENV_SYNTAX = re.compile(r"\$\{[A-Za-z_]\w*\}|(?:^|(?<=/))\$[A-Za-z_]\w*(?=/|$)")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys in a mapping (by name and line)."""

    path = ""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise ConfigError(
                    f"{self.path}:{line}: key {key!r} appears twice in one mapping (first at "
                    f"line {seen[key]}); YAML keeps only the last, so remove one"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _text(path: Path) -> str:
    """The file as UTF-8 text, or one line: binary (a checkpoint?) or another encoding."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            f"--config={str(path)!r} cannot be read ({error.strerror}); expected a readable YAML file"
        ) from None
    if data.startswith(b"PK\x03\x04") or b"\x00" in data[:8192]:
        what = "a zip archive (a checkpoint?)" if data.startswith(b"PK") else "a binary file"
        raise ConfigError(
            f"--config={str(path)!r} is {what}, not a YAML config; expected a text file "
            "(a checkpoint goes to --ckpt_path)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); expected a UTF-8 "
            "YAML file: save it as UTF-8"
        ) from None


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for with every alias expanded (shared nodes counted once
    per use; memoised, so the bomb is measured without being built)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once (PyYAML refuses it later anyway)
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, sizes)
        if total > MAX_EXPANDED_NODES:
            break
    sizes[id(node)] = total
    return total


def _env_syntax(node: Any, path: Path, seen: set[int], key: str = "") -> None:
    """Refuse a string value written in the shell's ``$NAME`` syntax (see module docstring)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if isinstance(node.value, str) and ENV_SYNTAX.search(node.value):
            where = f"{key}: " if key else ""
            raise ConfigError(
                f"{path}:{node.start_mark.line + 1}: {where}{node.value!r} uses environment-variable "
                "syntax, which a config does not expand; write the path out, or pass the setting "
                "on the command line unquoted so the shell expands it"
            )
    elif isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            name = str(getattr(key_node, "value", ""))
            _env_syntax(value, path, seen, f"{key}.{name}" if key else name)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _env_syntax(value, path, seen, f"{key}[{i}]")


def read_yaml_config(path: str | Path) -> Any:
    """The file's content (None when empty or comments only), or a
    [`ConfigError`][structured_ssl.config.field_checks.ConfigError] in one
    line: binary, not UTF-8, a syntax error (``FILE:LINE:COL``), an alias expansion over
    `MAX_EXPANDED_NODES`, a duplicate key, environment-variable syntax."""
    path = Path(path)
    loader = _StrictLoader(_text(path))
    loader.path = str(path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise ConfigError(
                f"{path}: its aliases (*name) expand to more than {MAX_EXPANDED_NODES} values; "
                "expected a config (a few hundred values): is it an alias bomb?"
            )
        _env_syntax(node, path, set())
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = f" ({error.context})" if error.context else ""
        raise ConfigError(f"{where}: {error.problem}{context}") from None
    finally:
        loader.dispose()


def check_arguments(argv: list[str]) -> None:
    """A command-line value in ``$NAME`` syntax reached us unexpanded (quoted in the shell, or
    from a script): refused, as in a config, instead of making a folder of that literal name."""
    for item in argv:
        value = item.split("=", 1)[1] if item.startswith("--") and "=" in item else item
        if ENV_SYNTAX.search(value):
            raise ConfigError(
                f"{item!r} uses environment-variable syntax that the shell did not expand (was "
                "it quoted?); write the value out, or leave it unquoted"
            )
