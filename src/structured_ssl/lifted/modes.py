"""Evaluation mode that restores every submodule's own mode (one definition for all readers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode and restore EVERY submodule's own mode afterwards.

    Feature extraction in train mode would update batch-norm running statistics
    (lightly#1840); restoring per submodule keeps deliberately frozen parts frozen.
    ``modules()`` lists parents before children, so each module ends in its former mode.
    """
    modes = [(m, m.training) for m in module.modules()]
    if any(flag for _, flag in modes):  # already in eval (a validation hook): touch nothing,
        module.eval()  # as escnn re-expands its filters on every ``eval()`` call
    try:
        yield module
    finally:
        if any(flag for _, flag in modes):
            for m, flag in modes:
                if m.training != flag:
                    m.train(flag)
