"""The crop group package: crop-and-resize as scale x translation (``action``), the input-lifted
encoder that keeps its cells (``encoder``) and the plug-in (``plugin``; importing this package
registers ``kind: crop``)."""

from structured_ssl.groups.crop.plugin import Crop

__all__ = ["Crop"]
