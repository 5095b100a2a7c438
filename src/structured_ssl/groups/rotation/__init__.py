"""C_N, the rotation group: its plug-in (``plugin``), its escnn regular-field layers and
action (``layers``) and the paper"s SESN filter copies (``rot90_conv``).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.rotation.plugin import Rotation, RotationFamily

__all__ = ["Rotation", "RotationFamily"]
