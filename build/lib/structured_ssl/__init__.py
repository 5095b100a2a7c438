"""structured-ssl: structured (homomorphic) self-supervised learning on equivariant encoders."""

import warnings

# escnn warns on import that py3nj is missing; py3nj (built with a Fortran compiler) only
# speeds up SO(3) Clebsch-Gordan coefficients, which no encoder here uses (2D groups only).
warnings.filterwarnings("ignore", message=r".*`py3nj` package not found.*")

__version__ = "0.1.0"
