"""The scale group: its plug-in, the SESN scale convolutions (``conv``), the action on images,
lifted maps and pooled fibers (``action``), the SESN encoder (``layers``), the input-lifted
encoder (``pyramid``) and the scale equivariance measurement (``equivariance``).

Importing the package registers the plug-in (``structured_ssl.groups`` imports every group).
"""

from structured_ssl.groups.scale.plugin import Scale

__all__ = ["Scale"]
