"""Opt-in speed settings for the encoder: ``torch.compile`` and channels-last memory format.

Why a callback and off by default: measured on the training step of every encoder family
(``benchmarks/compile_memory_format.py``, docs/results/compile_memory_format.md), neither is
faster on this project's CPU machines, and escnn's ``GeometricTensor`` wrapping breaks
compiled graphs into pieces. On a GPU they may pay; switch them on per run:

    --trainer.callbacks+=structured_ssl.callbacks.speed.EncoderSpeed --trainer.callbacks.compile=true

The encoder is compiled IN PLACE (``nn.Module.compile``), so parameter names, checkpoints and
exact resume are unchanged; channels-last only changes the weights' strides.
"""

from __future__ import annotations

import lightning as L
import torch

MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


class EncoderSpeed(L.Callback):
    """Compile the encoder and/or store its weights channels-last before training starts.

    Args:
        compile: ``torch.compile`` the encoder in place (default inductor backend).
        memory_format: "contiguous" (default) or "channels_last".
    """

    def __init__(self, compile: bool = False, memory_format: str = "contiguous") -> None:
        if not isinstance(compile, bool):
            raise ValueError(f"EncoderSpeed compile={compile!r}: expected true or false")
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"EncoderSpeed memory_format={memory_format!r}: expected one of {sorted(MEMORY_FORMATS)}"
            )
        self.compile, self.memory_format = compile, memory_format
        self._applied = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._applied:
            return
        encoder = pl_module.encoder
        if not isinstance(encoder, torch.nn.Module):
            raise TypeError(
                f"EncoderSpeed needs a model with an `encoder` module, got {type(encoder).__name__}"
            )
        if self.memory_format != "contiguous":
            # Module.to's stub omits memory_format, which Module.to accepts
            encoder.to(memory_format=MEMORY_FORMATS[self.memory_format])  # type: ignore[call-overload]
        if self.compile:
            encoder.compile()
        self._applied = True
