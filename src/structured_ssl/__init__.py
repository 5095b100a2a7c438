"""structured-ssl: structured (homomorphic) self-supervised learning on equivariant encoders.

The public Python API is the names in ``__all__`` (listed, one line and a link each, on the
API reference's page of this package). They are imported on first use, so that
``import structured_ssl`` stays light (about 0.02 s instead of the 15 s that torch, Lightning
and escnn take) and no submodule import runs in a circle; type checkers read the same names
from the ``TYPE_CHECKING`` block below, so ``from structured_ssl import Group`` is the real
class for mypy, not ``Any``.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import TYPE_CHECKING, Any

# escnn warns on import that py3nj is missing; py3nj (built with a Fortran compiler) only
# speeds up SO(3) Clebsch-Gordan coefficients, which no encoder here uses (2D groups only).
warnings.filterwarnings("ignore", message=r".*`py3nj` package not found.*")
# Lightning 2.6's CombinedLoader builds `torch.utils._pytree.LeafSpec()` for every loader
# (lightning/pytorch/utilities/_pytree.py), a class torch >= 2.10 deprecates with a
# FutureWarning on each fit, validate and test: Lightning's code, which no user can change.
# Silenced here, not only in the CLI, so that the Python route prints what the CLI prints.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# Lightning's "srun is available but not used" hint, on any machine with SLURM installed: the
# CLI silences it (its cluster route starts tasks under srun itself, docs/guides/cluster.md), so
# the Python route does too (a one-process fit on a login node is what the user asked for).
warnings.filterwarnings(
    "ignore", message=r".*The `srun` command is available on your system but is not used.*"
)

__version__ = "0.1.0"

if TYPE_CHECKING:  # the same names as _PUBLIC (tests/cli/test_public_api.py holds them equal)
    from structured_ssl.callbacks.prediction_writer import EmbeddingWriter
    from structured_ssl.data import DatasetDataModule, DigitsDataModule, ImageFolderDataModule
    from structured_ssl.encoders import EncoderSpec, build_encoder
    from structured_ssl.encoders.equivariance import measure as measure_equivariance
    from structured_ssl.encoders.own_cnn import PlainCNNEncoder
    from structured_ssl.encoders.own_escnn import EscnnEncoder
    from structured_ssl.groups import Group
    from structured_ssl.lifted.base import LiftedEncoder
    from structured_ssl.lifted.contract import EquivariantEncoder, check_encoder
    from structured_ssl.lifted.probes import probe_images
    from structured_ssl.methods import (
        AugmentationSSL,
        Frozen,
        HybridSSL,
        OptimizerSpec,
        SSLMethod,
        StructuredSSL,
        Supervised,
    )
    from structured_ssl.ssl.external_loss import ExternalPairLoss
    from structured_ssl.ssl.losses import NTXent, PairLoss
    from structured_ssl.ssl.pairs import (
        FiberGrid,
        PairSampling,
        read_bundles,
        sample_position_pairs,
    )

#: public name -> (module, attribute): what ``from structured_ssl import NAME`` imports.
_PUBLIC: dict[str, tuple[str, str]] = {
    # objectives (LightningModules) and their optimizer settings
    "StructuredSSL": ("structured_ssl.methods", "StructuredSSL"),
    "AugmentationSSL": ("structured_ssl.methods", "AugmentationSSL"),
    "HybridSSL": ("structured_ssl.methods", "HybridSSL"),
    "Frozen": ("structured_ssl.methods", "Frozen"),
    "Supervised": ("structured_ssl.methods", "Supervised"),
    "SSLMethod": ("structured_ssl.methods", "SSLMethod"),
    "OptimizerSpec": ("structured_ssl.methods", "OptimizerSpec"),
    # groups and encoders
    "Group": ("structured_ssl.groups", "Group"),
    "EncoderSpec": ("structured_ssl.encoders", "EncoderSpec"),
    "build_encoder": ("structured_ssl.encoders", "build_encoder"),
    "LiftedEncoder": ("structured_ssl.lifted.base", "LiftedEncoder"),
    "measure_equivariance": ("structured_ssl.encoders.equivariance", "measure"),
    "probe_images": ("structured_ssl.lifted.probes", "probe_images"),
    # your own encoder: the contract it satisfies, its check, the two adapters
    "EquivariantEncoder": ("structured_ssl.lifted.contract", "EquivariantEncoder"),
    "check_encoder": ("structured_ssl.lifted.contract", "check_encoder"),
    "EscnnEncoder": ("structured_ssl.encoders.own_escnn", "EscnnEncoder"),
    "PlainCNNEncoder": ("structured_ssl.encoders.own_cnn", "PlainCNNEncoder"),
    # fiber pairs and losses
    "PairSampling": ("structured_ssl.ssl.pairs", "PairSampling"),
    "FiberGrid": ("structured_ssl.ssl.pairs", "FiberGrid"),
    "sample_position_pairs": ("structured_ssl.ssl.pairs", "sample_position_pairs"),
    "read_bundles": ("structured_ssl.ssl.pairs", "read_bundles"),
    "PairLoss": ("structured_ssl.ssl.losses", "PairLoss"),
    "NTXent": ("structured_ssl.ssl.losses", "NTXent"),
    "ExternalPairLoss": ("structured_ssl.ssl.external_loss", "ExternalPairLoss"),
    # data and predictions
    "DigitsDataModule": ("structured_ssl.data", "DigitsDataModule"),
    "ImageFolderDataModule": ("structured_ssl.data", "ImageFolderDataModule"),
    "DatasetDataModule": ("structured_ssl.data", "DatasetDataModule"),
    "EmbeddingWriter": ("structured_ssl.callbacks.prediction_writer", "EmbeddingWriter"),
}
# a literal list, so that griffe (the API reference), ruff and readers see the names
__all__ = [
    "__version__",
    "StructuredSSL",
    "AugmentationSSL",
    "HybridSSL",
    "Frozen",
    "Supervised",
    "SSLMethod",
    "OptimizerSpec",
    "Group",
    "EncoderSpec",
    "build_encoder",
    "LiftedEncoder",
    "measure_equivariance",
    "probe_images",
    "EquivariantEncoder",
    "check_encoder",
    "EscnnEncoder",
    "PlainCNNEncoder",
    "PairSampling",
    "FiberGrid",
    "sample_position_pairs",
    "read_bundles",
    "PairLoss",
    "NTXent",
    "ExternalPairLoss",
    "DigitsDataModule",
    "ImageFolderDataModule",
    "DatasetDataModule",
    "EmbeddingWriter",
]


if not TYPE_CHECKING:  # hidden from mypy: a misspelt name is its error, not an ``Any``

    def __getattr__(name: str) -> Any:
        """Import a public name on first access (then kept in the module's namespace)."""
        if name not in _PUBLIC:
            raise AttributeError(f"module 'structured_ssl' has no attribute {name!r}")
        module, attribute = _PUBLIC[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_PUBLIC})
