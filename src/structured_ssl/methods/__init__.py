"""Objectives: each differs from the others only in where its positive pair comes from.

The LightningModules (A-SSL, H-SSL/S-SSL, hybrid, the frozen and supervised baselines, the
offline linear evaluation), their optimizers and schedules, and the safe loading of
checkpoints with the class-path allow-list (old class paths included). May import the layers
below: encoders, groups, data, ssl, config; never callbacks, experiments or the CLI.
"""

from structured_ssl.methods.augmentation import AugmentationSSL
from structured_ssl.methods.base import OptimizerSpec, SSLMethod
from structured_ssl.methods.baselines import Frozen, Supervised
from structured_ssl.methods.hybrid import HybridSSL
from structured_ssl.methods.structured import StructuredSSL

__all__ = [
    "AugmentationSSL",
    "Frozen",
    "HybridSSL",
    "OptimizerSpec",
    "SSLMethod",
    "StructuredSSL",
    "Supervised",
]
