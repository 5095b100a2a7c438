"""escnn's eval-mode caches in a state dict: tensors derived from the weights, not weights.

An escnn convolution put in eval mode caches its expanded filter and bias as buffers; a state
dict holding them does not load strictly into a freshly built model. Every reader and writer of
a state dict (checkpoints, resume, linear evaluation, ``check``) drops them first.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def drop_escnn_caches(module: nn.Module, state: dict[str, Any] | None) -> None:
    """Remove escnn's cached expanded filters and biases (eval-mode caches) from ``state``."""
    if state is None:
        return
    for name, sub in module.named_modules():
        if type(sub).__module__.startswith("escnn."):
            prefix = f"{name}." if name else ""
            for key in (f"{prefix}filter", f"{prefix}expanded_bias"):
                state.pop(key, None)
