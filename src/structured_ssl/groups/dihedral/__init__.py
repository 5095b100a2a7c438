"""D_N, rotations and flips: its plug-in; its layers are the rotation package"s (regular fields
on escnn"s ``flipRot2dOnR2``).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.dihedral.plugin import Dihedral

__all__ = ["Dihedral"]
