"""The callback packages split by concern keep every class path and checkpoint key.

``callbacks/resilience.py`` and ``callbacks/online_eval.py`` became packages with one module per
callback. Configs, the ``config.yaml`` of users' saved runs and the docs name
``structured_ssl.callbacks.resilience.<Class>`` and ``structured_ssl.callbacks.online_eval.<Class>``;
checkpoints hold a callback's state under its ``state_key`` (``ExactResume`` for the random
states of an exact resume). Both must stay as they were, or old runs no longer rebuild or resume.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: package -> the public classes it had as a single module, by the name configs use
PUBLIC = {
    "structured_ssl.callbacks.resilience": [
        "AtomicCheckpointIO",
        "ExactResume",
        "FiniteLoss",
        "PreemptionCheckpoint",
    ],
    "structured_ssl.callbacks.online_eval": [
        "EmbeddingProjector",
        "EquivarianceMonitor",
        "OnlineKNN",
        "TestLinearEval",
    ],
}
OLD_PATHS = [f"{package}.{name}" for package, names in PUBLIC.items() for name in names]


def resolve(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("class_path", OLD_PATHS)
def test_the_old_class_path_names_the_class_its_own_module_defines(class_path: str) -> None:
    cls = resolve(class_path)
    package = class_path.rpartition(".")[0]
    assert cls.__module__.startswith(package + "."), f"{class_path} is defined in {cls.__module__}"
    assert resolve(f"{cls.__module__}.{cls.__name__}") is cls


def test_every_callback_class_path_of_the_shipped_configs_resolves() -> None:
    """What ``--config`` files and the resilience defaults name (saved runs repeat these)."""
    named = set()
    for path in [
        *(REPO / "configs").rglob("*.yaml"),
        REPO / "src/structured_ssl/experiments/trainer_setup.py",
    ]:
        named |= set(
            re.findall(
                r"structured_ssl\.callbacks\.(?:resilience|online_eval)\.\w+", path.read_text()
            )
        )
    assert set(OLD_PATHS) <= named, f"not named anywhere: {set(OLD_PATHS) - named}"
    unresolved = [p for p in sorted(named) if not isinstance(resolve(p), type)]
    assert not unresolved


@pytest.mark.parametrize("class_path", [p for p in OLD_PATHS if not p.endswith("CheckpointIO")])
def test_the_checkpoint_key_of_each_callback_is_its_class_name(class_path: str) -> None:
    """Lightning stores and looks up a callback's state by ``state_key``; a checkpoint written
    before the split holds ``ExactResume`` (checked on a run saved by the single-module code:
    its ``callbacks`` keys were ``ExactResume`` and three ``ModelCheckpoint{...}``)."""
    cls = resolve(class_path)
    assert cls().state_key == class_path.rpartition(".")[2]
