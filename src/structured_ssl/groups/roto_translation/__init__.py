"""Translation x rotation: its plug-in and its layers (a circular C_N CNN on a centred torus).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.roto_translation.plugin import RotoTranslation

__all__ = ["RotoTranslation"]
