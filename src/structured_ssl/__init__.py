"""structured-ssl: structured (homomorphic) self-supervised learning on equivariant encoders."""

__version__ = "0.1.0"
