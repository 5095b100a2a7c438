"""Checkpoints written before the relayout still load: their pickles name the old class paths.

``tests/data/pre_relayout_structured_c4.ckpt`` was saved by a model built in Python before the
modules moved into layer subpackages; its hyperparameters pickle PairSampling and NTXent at their
old module paths (pairs, losses; and the unchanged ``groups.Group``, ``encoders.factory.EncoderSpec``,
``methods.base.OptimizerSpec``). ``structured_ssl.methods.checkpoints`` maps old class paths to the
classes' new homes (no shim modules).
"""

from __future__ import annotations

from pathlib import Path

import torch

OLD = Path(__file__).resolve().parents[1] / "data" / "pre_relayout_structured_c4.ckpt"


def test_the_old_checkpoint_names_the_old_paths() -> None:
    import zipfile

    with zipfile.ZipFile(OLD) as archive:
        pickled = b"".join(archive.read(n) for n in archive.namelist() if n.endswith("data.pkl"))
    assert b"structured_ssl.pairs\nPairSampling" in pickled  # old module path
    assert b"structured_ssl.losses\nNTXent" in pickled  # old module path


def test_an_old_checkpoint_loads_safely_with_its_settings() -> None:
    from structured_ssl.methods.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(OLD)
    hparams = checkpoint["hyper_parameters"]
    assert type(hparams["pairs"]).__name__ == "PairSampling" and hparams["pairs"].g0_size >= 1
    assert type(hparams["loss"]).__name__ == "NTXent" and hparams["loss"].temperature == 0.2
    assert hparams["group"].short_name == "C4"


def test_an_old_checkpoint_rebuilds_its_model() -> None:
    from structured_ssl.methods import StructuredSSL
    from structured_ssl.methods.checkpoints import allowed_project_types, load_checkpoint

    with allowed_project_types():
        model = StructuredSSL.load_from_checkpoint(OLD, map_location="cpu")
    saved = load_checkpoint(OLD)["state_dict"]
    assert model.group.short_name == "C4" and model.loss_fn.temperature == 0.2
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
