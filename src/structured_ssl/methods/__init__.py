"""Objectives: each differs from the others only in where its positive pair comes from."""

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
