"""Any loss with the ``(z0, z1) -> scalar`` signature as a pair loss (lightly's, your own).

Why: the methods took only the library's own [`PairLoss`][structured_ssl.ssl.losses.PairLoss]
plug-ins. In a config, name the loss inside this wrapper::

    loss:
      class_path: structured_ssl.ssl.external_loss.ExternalPairLoss
      init_args:
        loss: {class_path: lightly.loss.NTXentLoss, init_args: {temperature: 0.1}}

From Python, a method given any other ``nn.Module`` wraps it itself. The loss it is called
on this process's two ``(B, D)`` projections and must return the scalar to backpropagate (a lightly loss gathers across
processes itself when asked, e.g. ``gather_distributed: true``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from torch import Tensor, nn

from structured_ssl.ssl.losses import PairLoss


class ExternalPairLoss(PairLoss):
    """A ``(z0, z1) -> Tensor`` loss with the pair-loss interface (``{"loss": value}``)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.inner = loss

    def forward(self, z1: Tensor, z2: Tensor) -> dict[str, Tensor]:
        value = self.inner(z1, z2)
        if not isinstance(value, Tensor) or value.ndim != 0:
            raise ValueError(
                f"loss={type(self.inner).__name__}: expected a scalar tensor from loss(z0, z1), got {value!r:.80}"
            )
        return {"loss": value}


def as_pair_loss(
    loss: PairLoss | nn.Module | Callable[[Tensor, Tensor], Tensor] | None,
) -> PairLoss | None:
    """The library's own losses as they are; any other ``(z0, z1)`` loss wrapped."""
    if loss is None or isinstance(loss, PairLoss):
        return loss
    # a plain callable works too (the wrapper only calls it); ``nn.Module`` is the annotation
    # the CLI parses for ``init_args.loss``, so it stays the declared type
    return ExternalPairLoss(cast(nn.Module, loss))
