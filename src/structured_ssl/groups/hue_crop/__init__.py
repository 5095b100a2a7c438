"""Hue x crop, the SimCLR pair as one product group (importing this package registers
``kind: hue_crop``): the hue input lift wrapped around the crop encoder."""

from structured_ssl.groups.hue_crop.plugin import HueCrop

__all__ = ["HueCrop"]
