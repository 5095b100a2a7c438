"""What a method saves as its hyperparameters (the settings a checkpoint rebuilds it from).

One function, beside the method base class rather than in it: Lightning's
``save_hyperparameters`` with the pair loss kept as a module from Python, as the CLI keeps its
``class_path`` dict, without Lightning's warning about modules among the settings.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import lightning as L


def save_settings(module: L.LightningModule, loss: Any, own_encoder: bool = False) -> None:
    """``module.save_hyperparameters()`` for its ``__init__`` (the caller), the loss kept.

    A researcher's own encoder module (``own_encoder``) is never saved: it is no setting, and a
    checkpoint naming the user's class would have to import it to be read (the allow-list
    refuses classes the reader did not name); the config that names it, or the module handed
    again to ``load_from_checkpoint``, rebuilds it.

    From Python the loss is a module, which ``save_hyperparameters`` warns about ("already
    saved during checkpointing": its weights are; WHICH loss, with its settings, is not, and a
    checkpoint rebuilds the model from it, through the allow-list of ``methods/checkpoints.py``). So the settings are
    saved without it and it is added after that check. Under LightningCLI they are its config,
    where the loss is a ``class_path`` dict: saved whole, as before.
    """
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    mine = ["encoder"] if own_encoder else []
    module.save_hyperparameters(ignore=["loss", *mine], frame=caller)
    if "_instantiator" in module.hparams:  # LightningCLI gave its config
        module.save_hyperparameters(ignore=mine or None, frame=caller)
        return
    module.hparams["loss"] = loss
    vars(module)["_hparams_initial"]["loss"] = copy.deepcopy(loss)  # what the loggers record
