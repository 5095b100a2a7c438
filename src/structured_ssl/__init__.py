"""structured-ssl: structured (homomorphic) self-supervised learning on equivariant encoders."""

import warnings

# escnn warns on import that py3nj is missing; py3nj (built with a Fortran compiler) only
# speeds up SO(3) Clebsch-Gordan coefficients, which no encoder here uses (2D groups only).
warnings.filterwarnings("ignore", message=r".*`py3nj` package not found.*")

__version__ = "0.1.0"

# The public Python API (docs/guides/python-api.md). Imported on first use, so that
# `import structured_ssl` stays light and no submodule import runs in a circle.
_PUBLIC = {
    "Group": "structured_ssl.groups",
    "EncoderSpec": "structured_ssl.encoders.factory",
    "build_encoder": "structured_ssl.encoders.factory",
    "LiftedEncoder": "structured_ssl.lifted.base",
    "PairSampling": "structured_ssl.ssl.pairs",
    "FiberGrid": "structured_ssl.ssl.pairs",
    "sample_position_pairs": "structured_ssl.ssl.pairs",
    "read_bundles": "structured_ssl.ssl.pairs",
    "PairLoss": "structured_ssl.ssl.losses",
    "NTXent": "structured_ssl.ssl.losses",
    "ExternalPairLoss": "structured_ssl.ssl.external_loss",
    "measure_equivariance": "structured_ssl.encoders.equivariance",
    "probe_images": "structured_ssl.lifted.probes",
    "EmbeddingWriter": "structured_ssl.callbacks.prediction_writer",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'structured_ssl' has no attribute {name!r}")
    from importlib import import_module  # on first attribute access only: no import-time circle

    attribute = "measure" if name == "measure_equivariance" else name
    return getattr(import_module(_PUBLIC[name]), attribute)
