"""SO(2), continuous rotations: its plug-in, its band-limited escnn layers and Fourier read-out
(``layers``), its angle pairs (``pairs``) and the pair reader at angles (``positions``).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.so2.plugin import SO2

__all__ = ["SO2"]
