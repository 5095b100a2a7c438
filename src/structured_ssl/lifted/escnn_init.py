"""escnn's generalized He initialisation, computed per block instead of per weight.

escnn's ``R2Conv(initialize=True)`` calls ``init.generalized_he_init``, which walks one Python
dict per expansion coefficient (``basisexpansion.get_basis_info()``): 6.3M of them for a C4
layer of 512 -> 512 regular fields, minutes per layer (escnn issues 54 and 107). Yet the
variance of a coefficient depends only on its block (the pair of input / output
representation types) and on how many input fields of each type there are, so the same
numbers can be computed from each block's few dozen basis attributes and tiled.

:func:`he_init_std` returns exactly the tensor escnn's ``_generalized_he_init_variances``
returns (a test compares them); :func:`r2conv` builds an ``R2Conv`` with
``initialize=False`` and then draws its weights from that distribution.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from structured_ssl.lifted.escnn_compat import enn


def he_init_std(basis) -> torch.Tensor:
    """Per-coefficient standard deviation of escnn's generalized He init, per block.

    escnn's rule (``escnn/nn/init.py``): a coefficient from input irrep ``ρ`` to the output
    irrep at position ``o`` gets ``1 / sqrt(n_in(o) * n(ρ, o))``, where ``n(ρ, o)`` counts the
    basis elements from irreps ``ρ`` (over all input fields) into ``o`` and ``n_in(o)`` the
    distinct input irreps feeding ``o``. Output positions of different output fields never
    meet, so both counts are per output representation type and local irrep index; a block
    (input type I, output type O) repeats for every input field of type I.
    """
    from escnn.nn.modules.basismanager import BlocksBasisExpansion

    if not isinstance(basis, BlocksBasisExpansion):
        raise TypeError(f"he_init_std supports BlocksBasisExpansion, got {type(basis).__name__}")
    block_attrs = {}
    for pair in basis._representations_pairs:
        block = getattr(basis, f"block_expansion_{basis._escape_pair(pair)}")
        block_attrs[pair] = [(a["in_irrep"], a["out_irrep_idx"]) for a in block.get_basis_info()]
    # count[(out repr, local out irrep index)][in irrep] = basis elements over all input fields
    count: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for (in_name, out_name), attrs in block_attrs.items():
        for in_irrep, out_idx in attrs:
            count[(out_name, out_idx)][in_irrep] += basis._in_count[in_name]
    std = torch.empty(basis.dimension())
    for pair, attrs in block_attrs.items():
        in_name, out_name = pair
        block_std = torch.tensor(
            [
                1.0 / (len(count[(out_name, j)]) * count[(out_name, j)][irrep]) ** 0.5
                for irrep, j in attrs
            ]
        )
        start, end = basis._weights_ranges[pair]
        repeats = basis._in_count[in_name] * basis._out_count[out_name]
        std[start:end] = block_std.repeat(repeats)
    return std


def he_init_(conv: enn.R2Conv) -> None:
    """Draw ``conv``'s coefficients as escnn's ``generalized_he_init`` does, fast."""
    std = he_init_std(conv.basisexpansion).to(conv.weights.device, conv.weights.dtype)
    with torch.no_grad():
        conv.weights.copy_(std * torch.randn_like(conv.weights))


class _TorchWithoutFilterFill:
    """``torch`` as escnn's ``_RdConv.__init__`` sees it, except that the zero-filled dense
    filter buffer it allocates is an empty placeholder. That buffer (``C_out |G| x C_in |G| x
    k x k``: 600 MB for a D4 layer of 512 fields) is never read in training mode, which deletes
    it, and ``.eval()`` rebuilds it from the weights; filling it took half of a D4 ResNet's
    build time."""

    def __init__(self, filter_shape: tuple[int, ...]) -> None:
        self.filter_shape = filter_shape

    def zeros(self, *size, **kwargs):
        if tuple(size) == self.filter_shape:
            return torch.empty(0)
        return torch.zeros(*size, **kwargs)

    def __getattr__(self, name: str):
        return getattr(torch, name)


@contextmanager
def _no_filter_fill(filter_shape: tuple[int, ...]) -> Iterator[None]:
    from escnn.nn.modules.conv import rd_convolution

    rd_convolution.torch = _TorchWithoutFilterFill(filter_shape)
    try:
        yield
    finally:
        rd_convolution.torch = torch


def r2conv(
    in_type: enn.FieldType, out_type: enn.FieldType, kernel_size: int, **kwargs
) -> enn.R2Conv:
    """``enn.R2Conv`` with escnn's init distribution, in milliseconds instead of minutes.

    Returned in training mode's state (no ``filter`` buffer), as ``.train()`` leaves it.
    """
    groups = kwargs.get("groups", 1)
    filter_shape = (out_type.size, in_type.size // groups, kernel_size, kernel_size)
    with _no_filter_fill(filter_shape):
        conv = enn.R2Conv(in_type, out_type, kernel_size, initialize=False, **kwargs)
    he_init_(conv)
    return conv.train()  # escnn's train mode: drops the placeholder filter and expanded bias
