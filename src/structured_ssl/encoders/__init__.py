"""Encoders with a lifted output ``(batch, channels, group, height, width)``: the layers of every
group (escnn, rot90, scale, roto-translation, SO(2)), the paper's backbones, the factory that
builds an encoder from its spec, and, as escnn keeps it beside its modules, the equivariance
check and its bounds. The lowest layer: it imports nothing else of the package; the group it
is built for is handed to it as an object (never imported). See
docs/guides/layers-and-group-contract.md.
"""

from structured_ssl.encoders.factory import EncoderSpec, build_encoder
from structured_ssl.lifted.base import LiftedEncoder

__all__ = ["EncoderSpec", "LiftedEncoder", "build_encoder"]
