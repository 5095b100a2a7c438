"""The hue group package: the exact colour action (``colour``), the input-lifted encoder
(``encoder``) and the plug-in (``plugin``; importing this package registers ``kind: hue``)."""

from structured_ssl.groups.hue.plugin import Hue

__all__ = ["Hue"]
