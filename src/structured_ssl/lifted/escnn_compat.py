"""The one place escnn is imported, with two known incompatibilities handled.

* py3nj is absent where no Fortran compiler exists; escnn then warns about SO(3)
  Clebsch-Gordan coefficients, which 2D groups never use. The warning is silenced.
* escnn 1.0.11 passes an ``np.matrix`` to scikit-learn's ``randomized_svd``, which recent
  scikit-learn rejects (``TypeError: np.matrix is not supported``) when building D_N kernel
  bases. escnn falls back to SciPy's exact SVD when ``randomized_svd`` is None, so we select
  that fallback (exact, and the matrices are small).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*py3nj.*")
    import escnn.group._numerical as _escnn_numerical
    from escnn import gspaces
    from escnn import nn as enn

_escnn_numerical.randomized_svd = None

__all__ = ["enn", "gspaces"]
