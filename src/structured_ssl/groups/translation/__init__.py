"""Translations by whole feature cells: its plug-in and its layers (the plain CNN, the shift
action).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.translation.plugin import Translation

__all__ = ["Translation"]
