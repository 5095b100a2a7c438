"""A researcher's own encoder named in a config is checked before the model is built."""

from __future__ import annotations

from typing import Any

from structured_ssl.config.field_checks import ConfigError
from structured_ssl.config.field_checks import import_class as _import
from structured_ssl.groups import Group
from structured_ssl.lifted.contract import EncoderContractError, check_encoder


def _get(node: Any, key: str) -> Any:
    if node is None:
        return None
    return node.get(key) if hasattr(node, "get") else None


def _as_dict(node: Any) -> dict[str, Any]:
    if node is None:
        return {}
    return dict(node.as_dict()) if hasattr(node, "as_dict") else dict(node)


def check_own_encoder(node: Any, group: Group | None) -> None:
    """A researcher's encoder named by ``class_path``: built once from its ``init_args`` and held
    to the encoder contract (its group the model's), so a broken one is one line before the
    model is built. The class is imported because the user's own config names it."""
    class_path = str(_get(node, "class_path"))
    cls = _import(class_path)
    if cls is None:
        return  # the parser names a class that does not exist
    try:
        encoder = cls(**_as_dict(_get(node, "init_args")))
        check_encoder(encoder, group)
    except (EncoderContractError, TypeError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"model.init_args.encoder={class_path}: {first}") from None
