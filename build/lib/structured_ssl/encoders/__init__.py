"""Encoders with a lifted output ``(batch, channels, group, height, width)``."""

from structured_ssl.encoders.base import LiftedEncoder
from structured_ssl.encoders.factory import EncoderSpec, build_encoder

__all__ = ["EncoderSpec", "LiftedEncoder", "build_encoder"]
